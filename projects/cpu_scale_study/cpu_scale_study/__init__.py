"""The CPU-scale study of SDC: the variants of the method that the study ran to find why
the dynamic half of Eq. 4 collapses at CPU scale, and the diagnostics that measured it.
None of it is the paper's method; see the project's README.

Importing this package imports ``sdc_mmaction`` (the stack's fixes and the core
registrations) and registers the study's models and hooks in MMAction2's registries.
Study configs load it with ``custom_imports = dict(imports=['sdc_mmaction',
'projects.cpu_scale_study.cpu_scale_study'], allow_failed_imports=False)``; the
repository root must be importable (``tools/*.py`` put it on ``sys.path``).
"""
import sdc_mmaction  # noqa: F401  (compat fixes and core registration first)

from . import engine, models  # noqa: E402,F401  (registration)
