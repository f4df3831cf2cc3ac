"""Mixed precision that also works on CPU: bfloat16 autocast without loss scaling.

mmengine's ``AmpOptimWrapper`` asserts a GPU (CUDA / NPU / MLU / MUSA) at construction, so
``--amp`` on a CPU machine fails. :class:`CPUAmpOptimWrapper` gives CPU training the same
switch: the forward pass (data preprocessor, model and losses, i.e. everything
``BaseModel.train_step`` runs inside ``optim_context``) runs under
``torch.autocast('cpu', dtype=torch.bfloat16)``. bfloat16 has float32's exponent range, so
gradients cannot underflow the way float16 ones do and no loss scaling is needed; the
parameters, gradients and optimizer state stay float32.

A oneDNN defect is worked around here: with torch 2.13.0+cpu (oneDNN 3.12), the bfloat16
weight gradient of ``conv3d`` is wrong (NaN or garbage), and some shapes crash the
process, when an input dimension is smaller than the kernel's extent along it, e.g. a
temporal kernel of 3 over T' = 2 frames. That is exactly R(2+1)D-18's last stage on 16-frame
clips (and its third stage on 8-frame clips). Inside :meth:`CPUAmpOptimWrapper.optim_context`
every such convolution call runs in float32 instead (autocast off for that call only);
these are the smallest convolutions of the network, so the cost is small.
"""
import logging
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from mmaction.registry import OPTIM_WRAPPERS

#: optimizer wrapper types that ``--amp`` may replace by a mixed-precision one
PLAIN_OPTIM_WRAPPERS = ('OptimWrapper', 'AmpOptimWrapper', 'CPUAmpOptimWrapper')


def kernel_exceeds_input(conv: nn.Conv3d, x: torch.Tensor) -> bool:
    """Whether some dimension of ``x`` (N, C, T, H, W) is smaller than the dilated kernel
    extent of ``conv`` along it: the case whose bfloat16 weight gradient oneDNN gets wrong."""
    extents = [d * (k - 1) + 1 for k, d in zip(conv.kernel_size, conv.dilation)]
    return any(size < extent for size, extent in zip(x.shape[2:], extents))


def _float32_when_kernel_exceeds_input(conv: nn.Conv3d):
    """A ``forward`` for ``conv`` that leaves CPU autocast for the affected inputs."""
    forward = conv.forward

    def guarded_forward(x):
        if torch.is_autocast_enabled('cpu') and kernel_exceeds_input(conv, x):
            with torch.autocast(device_type='cpu', enabled=False):
                return forward(x.float())
        return forward(x)

    return guarded_forward


@contextmanager
def float32_convs_where_kernel_exceeds_input(model: nn.Module):
    """Within the context, the ``Conv3d`` layers of ``model`` run in float32 on inputs
    smaller than their kernel (see the module docstring)."""
    patched = []
    for module in model.modules():
        if isinstance(module, nn.Conv3d) and 'forward' not in module.__dict__:
            module.forward = _float32_when_kernel_exceeds_input(module)
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` runs the forward pass under CPU autocast.

    Args:
        dtype (str | torch.dtype): autocast type; only ``'bfloat16'`` (the default) is
            supported, as CPU float16 autocast would need loss scaling and is slow without
            native float16 arithmetic.
        loss_scale (str, optional): accepted for config compatibility with
            ``AmpOptimWrapper``; only ``None`` or ``'dynamic'`` (both mean: no scaling,
            bfloat16 does not need it). Defaults to None.
        **kwargs: the arguments of ``OptimWrapper`` (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).

    The state dict is the optimizer's, as with ``OptimWrapper``, so a checkpoint resumes
    with or without ``--amp``.
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 loss_scale: Optional[str] = None,
                 **kwargs) -> None:
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(f'CPUAmpOptimWrapper: dtype must be bfloat16 on CPU, got '
                             f'{dtype!r} (float16 needs a GPU: use AmpOptimWrapper there)')
        if loss_scale not in (None, 'dynamic'):
            raise ValueError(f'CPUAmpOptimWrapper: loss_scale={loss_scale!r} is not supported; '
                             "bfloat16 needs no loss scaling (use None or 'dynamic')")
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), \
                float32_convs_where_kernel_exceeds_input(model), \
                torch.autocast(device_type='cpu', dtype=self.cast_dtype):
            yield


def amp_optim_wrapper_cfg(optim_wrapper: dict, use_cuda: Optional[bool] = None) -> dict:
    """Return ``optim_wrapper`` switched to the mixed-precision wrapper for this device.

    CUDA: mmengine's ``AmpOptimWrapper`` (``loss_scale='dynamic'`` unless set; its ``dtype``,
    float16 by default, may be set to ``'bfloat16'``). CPU: :class:`CPUAmpOptimWrapper`
    (bfloat16), dropping a CUDA-only ``dtype='float16'``.

    Args:
        optim_wrapper (dict): the config's ``optim_wrapper``; its ``type`` must be one of
            ``OptimWrapper``, ``AmpOptimWrapper``, ``CPUAmpOptimWrapper`` (a custom
            wrapper cannot be swapped safely).
        use_cuda (bool, optional): target device; defaults to ``torch.cuda.is_available()``.
    """
    if use_cuda is None:
        use_cuda = torch.cuda.is_available()
    cfg = dict(optim_wrapper)
    wrapper_type = cfg.get('type', 'OptimWrapper')
    if wrapper_type not in PLAIN_OPTIM_WRAPPERS:
        raise ValueError(f'--amp cannot replace the custom optim_wrapper.type '
                         f'{wrapper_type!r}; set a mixed-precision wrapper in the config')
    if use_cuda:
        cfg['type'] = 'AmpOptimWrapper'
        cfg.setdefault('loss_scale', 'dynamic')
    else:
        cfg['type'] = 'CPUAmpOptimWrapper'
        dtype = cfg.get('dtype', None)
        if dtype is not None and str(dtype).replace('torch.', '') != 'bfloat16':
            print_log(f'--amp on CPU: optim_wrapper.dtype={dtype!r} is CUDA-only; using '
                      'bfloat16 autocast (CPUAmpOptimWrapper)', logger='current',
                      level=logging.WARNING)
            cfg.pop('dtype')
        cfg.pop('loss_scale', None)  # bfloat16 needs no loss scaling
    return cfg


__all__ = ['CPUAmpOptimWrapper', 'amp_optim_wrapper_cfg', 'PLAIN_OPTIM_WRAPPERS',
           'float32_convs_where_kernel_exceeds_input', 'kernel_exceeds_input']
