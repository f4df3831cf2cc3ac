from . import atomic_checkpoint  # noqa: F401  (crash-safe checkpoint writes, on import)
from . import hooks  # noqa: F401
