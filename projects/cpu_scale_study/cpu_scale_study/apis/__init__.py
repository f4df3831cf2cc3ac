"""Library functions behind the study's tools (imported lazily by each tool)."""
