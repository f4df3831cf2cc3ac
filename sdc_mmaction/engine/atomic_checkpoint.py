"""Crash-safe checkpoints for mmengine's ``Runner`` and ``CheckpointHook``.

mmengine 0.10.7 writes checkpoints in three steps, none of them safe against a kill or a
full disk:

1. ``CheckpointHook._save_checkpoint_with_step`` deletes the oldest checkpoint when
   ``max_keep_ckpts`` is reached, *before* writing the new one;
2. ``save_checkpoint`` opens ``epoch_N.pth`` (or ``iter_N.pth``) in place and writes it;
3. the hook rewrites ``last_checkpoint`` (truncate, then write the path).

A kill inside step 2 leaves a truncated ``epoch_N.pth``; a kill inside step 3 leaves an
empty ``last_checkpoint``, which ``--resume`` reads as the path ``''``; with
``max_keep_ckpts=1`` a kill inside step 2 leaves no complete checkpoint at all.

:func:`enable_atomic_checkpoints` (called when :mod:`sdc_mmaction.engine` is imported, so
by every config that loads ``sdc_mmaction``) changes this in one place:

- checkpoints for local paths are written to a hidden temporary file in the target folder
  (``.epoch_N.pth.tmp-<pid>``), flushed, ``fsync``-ed and moved over the final name with
  ``os.replace`` (atomic on POSIX and Windows within one file system); the folder is then
  ``fsync``-ed so the rename survives a power cut. Any exception removes the temporary file;
  a SIGKILL may leave one behind, which nothing reads. Paths for other storage back ends
  (``s3://``, ``pavi://``, ``backend_args`` naming a non-local back end) go to mmengine's own
  ``save_checkpoint`` unchanged;
- ``last_checkpoint`` is written the same way (temporary file + ``os.replace``), so it
  always holds either the previous or the new path;
- the oldest checkpoint is deleted only *after* the new one and ``last_checkpoint`` are in
  place (if saving fails, the old file is kept and merely no longer counted by
  ``max_keep_ckpts``);
- before anything is written, the weights (``state_dict`` and, if present,
  ``ema_state_dict``) are checked to be finite; a checkpoint with NaN or Inf weights raises
  :class:`NonFiniteWeightsError` and nothing is written, so the previous checkpoint stays
  the one ``--resume`` picks. Set the environment variable
  ``SDC_ALLOW_NONFINITE_CHECKPOINT=1`` to write such a checkpoint anyway (to debug it).

Not covered: ``best_*`` checkpoints of ``save_best`` are still deleted before the new best is
written (resume never reads them), and ``FlexibleRunner`` strategies (DeepSpeed, FSDP) that
save through their own code.
"""
import contextlib
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional

import torch

#: environment variable that lets a checkpoint with non-finite weights be written
ALLOW_NONFINITE_ENV = 'SDC_ALLOW_NONFINITE_CHECKPOINT'

#: what :func:`enable_atomic_checkpoints` patched (name -> applied)
PATCHED: Dict[str, bool] = {}

#: mmengine's own ``save_checkpoint``, used for non-local storage
_mmengine_save_checkpoint = None


class NonFiniteWeightsError(FloatingPointError):
    """A checkpoint was about to be written with NaN or Inf weights."""


# --------------------------------------------------------------------------- writing
def _temporary_path(path: str) -> str:
    directory, name = osp.split(osp.abspath(path))
    # Hidden and not ending in .pth: no glob for checkpoints picks it up.
    return osp.join(directory, f'.{name}.tmp-{os.getpid()}')


def _fsync_directory(directory: str) -> None:
    """Make a rename inside ``directory`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'wb', **kwargs) -> Iterator:
    """Open a temporary file next to ``path``; on success move it over ``path``.

    Readers of ``path`` see either the old content or the complete new content, never a
    partial write. If the ``with`` block raises, the temporary file is removed and ``path``
    is left as it was.

    Args:
        path (str): the final file path (its folder is created if missing).
        mode (str): ``'w'`` or ``'wb'`` (optionally with ``'+'``); other modes make no
            sense for a replace-on-close file.
        **kwargs: passed to :func:`open` (e.g. ``encoding``).
    """
    if not mode.startswith('w'):
        raise ValueError(f'atomic_open: mode must start with "w", got {mode!r}')
    path = osp.abspath(path)
    directory = osp.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = _temporary_path(path)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_directory(directory)


def non_finite_tensors(state_dict) -> List[str]:
    """Names of the floating-point tensors in ``state_dict`` holding NaN or Inf."""
    if not isinstance(state_dict, dict):
        return []
    flags, names = [], []
    for name, value in state_dict.items():
        if torch.is_tensor(value) and (value.is_floating_point() or value.is_complex()):
            flags.append(torch.isfinite(value).all())
            names.append(name)
    if not flags:
        return []
    finite = torch.stack([f.to('cpu') for f in flags]).tolist()  # one transfer
    return [name for name, ok in zip(names, finite) if not ok]


def check_checkpoint_finite(checkpoint: dict, filename: str) -> None:
    """Raise :class:`NonFiniteWeightsError` if the checkpoint's weights are not finite."""
    if os.environ.get(ALLOW_NONFINITE_ENV, '') not in ('', '0'):
        return
    bad = []
    for key in ('state_dict', 'ema_state_dict'):
        bad += [f'{key}.{name}' for name in non_finite_tensors(checkpoint.get(key))]
    if bad:
        shown = ', '.join(bad[:8]) + (f' and {len(bad) - 8} more' if len(bad) > 8 else '')
        raise NonFiniteWeightsError(
            f'refusing to write checkpoint {filename}: NaN or Inf in {len(bad)} weight '
            f'tensor(s): {shown}. Nothing was written; the previous checkpoint (named in '
            f'the work dir\'s last_checkpoint) is unchanged. Set {ALLOW_NONFINITE_ENV}=1 '
            'to write it anyway.')


def _is_local(filename: str, file_client_args, backend_args) -> bool:
    from mmengine.fileio import LocalBackend, get_file_backend

    if file_client_args is not None or '://' in str(filename):
        return False
    try:
        backend = get_file_backend(filename, backend_args=backend_args)
    except Exception:  # an unknown back end: leave the decision to mmengine
        return False
    return isinstance(backend, LocalBackend)


def save_checkpoint(checkpoint: dict,
                    filename: str,
                    file_client_args: Optional[dict] = None,
                    backend_args: Optional[dict] = None) -> None:
    """mmengine's ``save_checkpoint``, atomic for local files and refusing NaN weights.

    Same arguments as :func:`mmengine.runner.save_checkpoint`. Local paths are written with
    :func:`atomic_open`; other storage goes to mmengine's function.

    Raises:
        NonFiniteWeightsError: if ``checkpoint['state_dict']`` (or ``ema_state_dict``)
            holds NaN or Inf; nothing is written.
    """
    check_checkpoint_finite(checkpoint, filename)
    if not _is_local(filename, file_client_args, backend_args):
        return _mmengine_save_checkpoint(checkpoint, filename,
                                         file_client_args=file_client_args,
                                         backend_args=backend_args)
    with atomic_open(filename, 'wb') as f:
        torch.save(checkpoint, f)


# --------------------------------------------------------------------------- the hook
class _DeferredRemovals:
    """Stands in for a file back end; records ``remove``/``rmtree`` instead of doing them."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.pending = []

    def remove(self, filepath) -> None:
        self.pending.append(('remove', filepath))

    def rmtree(self, dir_path) -> None:
        self.pending.append(('rmtree', dir_path))

    def __getattr__(self, name):
        return getattr(self._backend, name)


def _open_for_checkpoint_hook(file, mode='r', *args, **kwargs):
    """``open`` as seen by mmengine's checkpoint_hook module: atomic for last_checkpoint."""
    if mode == 'w' and not args and osp.basename(str(file)) == 'last_checkpoint':
        return atomic_open(file, 'w', **kwargs)
    return open(file, mode, *args, **kwargs)


def _wrap_save_checkpoint_with_step(original):

    def _save_checkpoint_with_step(self, runner, step, meta):
        # Old checkpoints are removed only once the new one is safely in place.
        backend = self.file_backend
        deferred = _DeferredRemovals(backend)
        self.file_backend = deferred
        try:
            original(self, runner, step, meta)
        finally:
            self.file_backend = backend
        for operation, path in deferred.pending:
            getattr(backend, operation)(path)

    _save_checkpoint_with_step._sdc_atomic = True
    _save_checkpoint_with_step.__wrapped__ = original
    _save_checkpoint_with_step.__doc__ = original.__doc__
    return _save_checkpoint_with_step


def enable_atomic_checkpoints() -> Dict[str, bool]:
    """Install the atomic writes described in the module docstring (idempotent)."""
    global _mmengine_save_checkpoint
    if PATCHED:
        return PATCHED
    import mmengine.runner as runner_package
    from mmengine.hooks import CheckpointHook
    from mmengine.hooks import checkpoint_hook as hook_module
    from mmengine.runner import checkpoint as checkpoint_module
    from mmengine.runner import runner as runner_module

    _mmengine_save_checkpoint = checkpoint_module.save_checkpoint
    # Every name through which mmengine reaches save_checkpoint: Runner.save_checkpoint
    # (runner module), CheckpointHook._publish_model (mmengine.runner), direct users.
    for module in (checkpoint_module, runner_module, runner_package):
        if getattr(module, 'save_checkpoint', None) is _mmengine_save_checkpoint:
            module.save_checkpoint = save_checkpoint
    PATCHED['save_checkpoint'] = True

    method = CheckpointHook._save_checkpoint_with_step
    if not getattr(method, '_sdc_atomic', False):
        CheckpointHook._save_checkpoint_with_step = _wrap_save_checkpoint_with_step(method)
    PATCHED['remove_after_save'] = True

    # The hook writes last_checkpoint with the builtin open(); a module-level `open` in
    # its namespace takes precedence over the builtin for that module only.
    hook_module.open = _open_for_checkpoint_hook
    PATCHED['last_checkpoint'] = True
    return PATCHED


enable_atomic_checkpoints()

__all__ = ['NonFiniteWeightsError', 'atomic_open', 'check_checkpoint_finite',
           'enable_atomic_checkpoints', 'non_finite_tensors', 'save_checkpoint',
           'ALLOW_NONFINITE_ENV', 'PATCHED']
