"""Keep the precision-sensitive parts of the losses in float32 under mixed precision.

Under ``torch.autocast`` (``--amp``: float16 / bfloat16 on CUDA, bfloat16 on CPU) matrix
products run in the low-precision type even when their inputs are float32. bfloat16 keeps
8 bits of mantissa, so a cosine code near 1 is quantised in steps of about 0.004; divided
by the Sinkhorn epsilon (0.05) or the softmax temperature (0.1) that is an error of
0.04-0.08 in a logit, and the margin loss's ``|a|^2 + |o|^2 - 2 a.o`` cancels badly in low
precision. These computations are tiny next to the backbone, so :func:`float32_under_autocast`
runs them in float32.
"""
import contextlib
import functools
from typing import Callable, List

import torch

#: the autocast device types checked (the ones the stack trains on)
_AUTOCAST_DEVICE_TYPES = ('cpu', 'cuda')
_LOW_PRECISION = (torch.float16, torch.bfloat16)


def autocast_device_types() -> List[str]:
    """Device types on which ``torch.autocast`` is enabled right now."""
    return [d for d in _AUTOCAST_DEVICE_TYPES if torch.is_autocast_enabled(d)]


def _to_float32(value):
    if isinstance(value, torch.Tensor) and value.dtype in _LOW_PRECISION:
        return value.float()
    return value


def float32_under_autocast(fn: Callable) -> Callable:
    """Decorator: when autocast is on, run ``fn`` with autocast off and its float16 /
    bfloat16 tensor arguments (positional or keyword, not nested) cast to float32.

    Without autocast the call is unchanged, so a model converted wholly to a low-precision
    type (no autocast) keeps its dtypes. Gradients flow through the casts.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        devices = autocast_device_types()
        if not devices:
            return fn(*args, **kwargs)
        with contextlib.ExitStack() as stack:
            for device in devices:
                stack.enter_context(torch.autocast(device_type=device, enabled=False))
            args = tuple(_to_float32(a) for a in args)
            kwargs = {k: _to_float32(v) for k, v in kwargs.items()}
            return fn(*args, **kwargs)

    return wrapper


__all__ = ['float32_under_autocast', 'autocast_device_types']
