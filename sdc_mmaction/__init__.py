"""sdc-mmaction: Static and Dynamic Concepts (SDC, ECCV 2022) for MMAction2.

Importing this package first applies the stack's compatibility fixes (see
:mod:`sdc_mmaction.compat`; they must run before ``mmaction.models`` is imported), then
registers every component into MMAction2's registries. Configs load it with
``custom_imports = dict(imports=['sdc_mmaction'], allow_failed_imports=False)``.
"""
from .compat import apply_compat_fixes

apply_compat_fixes()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration)
from .version import __version__  # noqa: E402

__all__ = ['__version__']
