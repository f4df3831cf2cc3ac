"""Small collective helpers for losses that must see the global batch under DDP.

Every helper is the identity (or a local reduction) when ``torch.distributed`` is not
initialised or the world has one process, so the losses run unchanged in a single process.
"""
from typing import Tuple

import torch
import torch.distributed as dist
from torch import Tensor


def get_dist_info() -> Tuple[int, int]:
    """Return ``(rank, world_size)``; ``(0, 1)`` without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_distributed() -> bool:
    """Whether a process group with more than one process is running."""
    return get_dist_info()[1] > 1


@torch.no_grad()
def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over all ranks, returning a new tensor (no gradient)."""
    out = tensor.detach().clone()
    if is_distributed():
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


@torch.no_grad()
def all_reduce_max(tensor: Tensor) -> Tensor:
    """Element-wise maximum of ``tensor`` over all ranks, as a new tensor (no gradient)."""
    out = tensor.detach().clone()
    if is_distributed():
        dist.all_reduce(out, op=dist.ReduceOp.MAX)
    return out


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward returns this rank's slice of the summed
    gradient.

    Each rank's loss uses the gathered copies of the other ranks' features, so the gradient
    with respect to sample ``i`` is spread over every rank's graph. Summing the incoming
    gradients over ranks before taking the local slice gives each rank the full gradient
    for its own samples, which is what a single process over the global batch computes.
    """

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        rank, world_size = get_dist_info()
        ctx.rank = rank
        ctx.local_size = tensor.shape[0]
        gathered = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(gathered, tensor.contiguous())
        return torch.cat(gathered, dim=0)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> Tensor:
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.local_size
        return grad[start:start + ctx.local_size]


def all_gather_with_grad(tensor: Tensor) -> Tuple[Tensor, int]:
    """Concatenate ``tensor`` (N, ...) from every rank along dim 0, keeping the gradient.

    Args:
        tensor: this rank's tensor, shape ``(N, ...)``; every rank must pass the same shape.

    Returns:
        ``(gathered, offset)``: ``gathered`` of shape ``(world_size * N, ...)`` in rank
        order, and ``offset``, the index of this rank's first row in it. Without a process
        group (or with one process) ``gathered`` is ``tensor`` itself and ``offset`` is 0.

    The backward sums the gradient of the gathered tensor over ranks and hands this rank
    its own slice (see :class:`_AllGatherWithGrad`), so the other ranks' uses of this
    rank's rows reach its parameters.

    Raises:
        ValueError: when the ranks pass tensors of different shapes (an uneven last batch,
            for instance), which ``all_gather`` cannot concatenate.
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        return tensor, 0
    shape = torch.tensor(list(tensor.shape), dtype=torch.long, device=tensor.device)
    shapes = [torch.empty_like(shape) for _ in range(world_size)]
    dist.all_gather(shapes, shape)
    if any(not torch.equal(s, shape) for s in shapes):
        raise ValueError('all_gather_with_grad needs the same tensor shape on every rank, '
                         f'got {[tuple(s.tolist()) for s in shapes]}; use equal per-rank '
                         'batch sizes (e.g. drop_last=True in the train dataloader)')
    return _AllGatherWithGrad.apply(tensor), rank * tensor.shape[0]
