"""Workarounds for the pinned OpenMMLab stack, all in one place.

Fixes 1-3 and 5 are applied by :func:`apply_compat_fixes` (called when ``sdc_mmaction`` is
imported); each detects whether upstream still needs it, does nothing where upstream is
already fixed, and records whether it was applied in :data:`APPLIED` so tests and bug
reports can tell. Fix 4 is a function the tool scripts call when a run has finished.

1. ``missing_drn``: the mmaction2 1.2.0 wheel lacks ``mmaction/models/localizers/drn``
   (open-mmlab/mmaction2#2714, fix #2721), so ``import mmaction.models`` fails. We register
   empty stand-in modules for ``mmaction.models.localizers.drn[.drn]`` before
   ``mmaction.models`` is imported. Only DRN itself refers to that folder.
2. ``checkpoint_weights_only``: torch >= 2.6 loads with ``weights_only=True`` by default,
   but mmengine 0.10.7 checkpoints pickle a ``HistoryBuffer`` in their message hub
   (open-mmlab/mmengine#1655), which breaks ``--resume``, ``load_from`` and testing. We
   register a local-file loader that passes ``weights_only=False`` (checkpoints are the
   user's own files, as with every OpenMMLab release before torch 2.6).
3. ``cpu_distributed``: mmengine's ``_init_dist_pytorch`` always calls
   ``torch.cuda.set_device`` and defaults to NCCL, so torchrun on a CPU-only machine
   fails. Without CUDA we initialise the process group with gloo and skip the device call.
   :func:`adapt_cfg_for_device` does the config half (DDP ``device_ids=None``, no SyncBN).
4. gloo worker threads at exit: gloo finishes each collective on a worker thread, which
   can release the last reference to a tensor made in Python after the main thread has
   begun shutting the interpreter down; the thread then cannot take the GIL and the rank
   dies with ``terminate called without an active exception`` (SIGABRT), so torchrun
   reports a run that saved everything as failed (pytorch/pytorch#190489 and #117762; seen
   here in about 1 run in 30 of two-rank CPU training under load, and destroying the
   process group first did not prevent it). The tool scripts end a distributed run with
   :func:`leave_distributed_run`, which skips that interpreter shutdown.
5. ``color_jitter_hue``: MMAction2 1.2.0's ``ColorJitter.adjust_hue`` adds the hue offset,
   a Python int that is negative for half the drawn factors, to the uint8 hue channel;
   numpy >= 2 refuses that (``OverflowError: Python integer -32 out of bounds for uint8``),
   so any pipeline with ``ColorJitter(hue > 0)`` fails on about every second clip. The
   replacement does the same arithmetic in int16, which is what numpy 1 did implicitly.
   Applied by :func:`apply_compat_fixes` when the stock method raises on a probe.
"""
import atexit
import importlib.util
import inspect
import os
import os.path as osp
import sys
import types
from typing import Dict

#: name of each fix -> whether it was applied in this process
APPLIED: Dict[str, bool] = {}


def _mmaction_has_drn() -> bool:
    """Whether the installed mmaction2 ships the DRN localizer folder.

    ``importlib.util.find_spec`` on the submodule would import ``mmaction.models`` (which
    is exactly what fails), so look at the files instead.
    """
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return True  # no mmaction at all: nothing to fix here
    for root in spec.submodule_search_locations:
        if osp.isdir(osp.join(root, 'models', 'localizers', 'drn')):
            return True
    return False


def fix_missing_drn() -> bool:
    """Register stand-ins for the DRN modules missing from the mmaction2 1.2.0 wheel."""
    if _mmaction_has_drn() or 'mmaction.models.localizers.drn.drn' in sys.modules:
        return False

    class DRN:  # noqa: D401 - placeholder named like the real class
        """Stand-in for mmaction2's DRN localizer, absent from the installed wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError(
                'DRN is not available: the installed mmaction2 wheel lacks '
                'mmaction/models/localizers/drn (open-mmlab/mmaction2#2714).')

    package = types.ModuleType('mmaction.models.localizers.drn')
    package.__path__ = []  # a package, so that `.drn.drn` resolves
    module = types.ModuleType('mmaction.models.localizers.drn.drn')
    module.DRN = DRN
    package.drn = module
    sys.modules['mmaction.models.localizers.drn'] = package
    sys.modules['mmaction.models.localizers.drn.drn'] = module
    return True


def _mmengine_loader_needs_weights_only() -> bool:
    import torch
    from mmengine.runner import checkpoint as ckpt_module

    major, minor = (int(x) for x in torch.__version__.split('.')[:2])
    if (major, minor) < (2, 6):
        return False  # torch's old default already unpickles everything
    source = inspect.getsource(ckpt_module.load_from_local)
    return 'weights_only' not in source


def load_local_checkpoint(filename, map_location=None):
    """mmengine's local-file checkpoint loader, with ``weights_only=False``."""
    import torch

    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def fix_checkpoint_weights_only() -> bool:
    """Let mmengine 0.10.7 load its own checkpoints under torch >= 2.6."""
    if not _mmengine_loader_needs_weights_only():
        return False
    from mmengine.runner import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes='', force=True)(load_local_checkpoint)
    return True


def _init_dist_pytorch_cpu(backend='nccl', init_backend='torch', **kwargs) -> None:
    """``_init_dist_pytorch`` for machines without CUDA: gloo, no ``set_device``."""
    import torch.distributed as torch_dist

    if init_backend != 'torch':
        raise ValueError(f'init_backend={init_backend!r} needs CUDA; on CPU only '
                         "'torch' is supported")
    if backend != 'gloo':
        backend = 'gloo'  # nccl is not built into CPU wheels
    torch_dist.init_process_group(backend=backend, **kwargs)


def fix_cpu_distributed() -> bool:
    """Make ``init_dist('pytorch')`` work on a machine without CUDA."""
    import torch
    from mmengine.dist import utils as dist_utils

    if torch.cuda.is_available():
        return False
    if getattr(dist_utils._init_dist_pytorch, '_sdc_cpu_fix', False):
        return True
    original = dist_utils._init_dist_pytorch

    def _init_dist_pytorch(backend='nccl', init_backend='torch', **kwargs):
        # MLU / NPU / MUSA machines keep mmengine's own code path.
        if (dist_utils.is_mlu_available() or dist_utils.is_npu_available()
                or dist_utils.is_musa_available()):
            return original(backend, init_backend=init_backend, **kwargs)
        return _init_dist_pytorch_cpu(backend, init_backend=init_backend, **kwargs)

    _init_dist_pytorch._sdc_cpu_fix = True
    dist_utils._init_dist_pytorch = _init_dist_pytorch
    return True


def _replace_sync_bn(node):
    """Return ``node`` with every ``SyncBN`` norm config turned into ``BN3d``."""
    if isinstance(node, dict):
        out = type(node)()
        for key, value in node.items():
            if key == 'type' and value in ('SyncBN', 'MMSyncBN'):
                value = 'BN3d'
            out[key] = _replace_sync_bn(value)
        return out
    if isinstance(node, (list, tuple)):
        return type(node)(_replace_sync_bn(v) for v in node)
    return node


def adapt_cfg_for_device(cfg) -> bool:
    """Adjust a distributed config for a machine without CUDA; return whether it did.

    - DDP wraps CPU modules, which takes ``device_ids=None``;
    - the process group uses gloo;
    - SyncBN only runs on GPU modules, so it becomes ``BN3d``.
    """
    import torch

    if torch.cuda.is_available():
        return False
    wrapper = dict(cfg.get('model_wrapper_cfg', None) or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    env_cfg = cfg.get('env_cfg', None)
    if env_cfg is not None:
        dist_cfg = dict(env_cfg.get('dist_cfg', None) or {})
        dist_cfg['backend'] = 'gloo'
        cfg.env_cfg.dist_cfg = dist_cfg
    cfg.model = _replace_sync_bn(cfg.model)
    return True


def leave_distributed_run() -> None:
    """End a finished distributed run's process without interpreter shutdown.

    Waits for every rank, destroys the process group, runs the ``atexit`` handlers (they
    close log files), flushes stdout and stderr and exits with status 0 through
    ``os._exit``, so no gloo worker thread is left to take the GIL of an interpreter that is
    shutting down (fix 4 above). Call it only after the run succeeded, from a tool script's
    ``__main__``; in a process that never joined a process group it returns at once.
    """
    import torch.distributed as torch_dist

    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


def _adjust_hue(img, factor):
    """``ColorJitter.adjust_hue`` of MMAction2 1.2.0 with the offset added in int16."""
    import cv2
    import numpy as np
    img = np.clip(img, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    offset = int(factor * 255)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + offset) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)


def _color_jitter_hue_overflows() -> bool:
    import numpy as np
    from mmaction.datasets.transforms import ColorJitter
    try:
        ColorJitter.adjust_hue(np.zeros((1, 1, 3), np.float32), -0.1)
    except OverflowError:
        return True
    return False


def fix_color_jitter_hue() -> bool:
    """Make ``ColorJitter.adjust_hue`` work with negative factors under numpy >= 2."""
    if not _color_jitter_hue_overflows():
        return False
    from mmaction.datasets.transforms import ColorJitter
    ColorJitter.adjust_hue = staticmethod(_adjust_hue)
    return True


def apply_compat_fixes() -> Dict[str, bool]:
    """Apply every fix once (idempotent) and return :data:`APPLIED`."""
    if not APPLIED:
        APPLIED['missing_drn'] = fix_missing_drn()
        APPLIED['checkpoint_weights_only'] = fix_checkpoint_weights_only()
        APPLIED['cpu_distributed'] = fix_cpu_distributed()
        APPLIED['color_jitter_hue'] = fix_color_jitter_hue()
    return APPLIED


__all__ = ['apply_compat_fixes', 'adapt_cfg_for_device', 'APPLIED', 'leave_distributed_run',
           'load_local_checkpoint']
