from . import atomic_checkpoint  # noqa: F401  (crash-safe checkpoint writes, on import)
from . import hooks  # noqa: F401
from . import optim_wrappers  # noqa: F401  (CPUAmpOptimWrapper for --amp on CPU)
from . import resumable_loop  # noqa: F401  (ResumableEpochBasedTrainLoop)
