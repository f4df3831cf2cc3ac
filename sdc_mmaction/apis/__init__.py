"""Library functions behind the command-line tools (imported lazily by each tool)."""
