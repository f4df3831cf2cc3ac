"""Sinkhorn-Knopp soft assignments (the targets ``q_bar`` of Eq. 4), as in SwAV.

The transport problem: find ``Q = diag(a) exp(scores / epsilon) diag(b)`` over the whole
(global) batch whose rows (samples) each sum to one and whose columns (concepts) carry equal
mass, i.e. the concepts are used uniformly over the batch.

SwAV scales ``exp(scores / epsilon)`` by its total and then alternates "divide every concept
column by its sum, divide by K" and "divide every sample row by its sum, divide by B",
finally multiplying by B. In log space the constant factors (the total, 1/K, 1/B) cancel:
each column step subtracts a per-concept log-sum-exp and each row step a per-sample one,
and the last row step already makes every row sum to one. Working in log space (float64)
keeps very confident scores (``scores / epsilon`` in the thousands) finite: nothing is
exponentiated before the final, normalised step.

Under DDP the column sums run over every rank's rows (one ``all_reduce`` of the column
maxima and one of the shifted column sums per iteration), so all ranks solve ONE problem
over the global batch; the row step is local because each sample lives on one rank.
"""
from typing import Optional

import torch
from torch import Tensor

from .distributed import all_reduce_max, all_reduce_sum, is_distributed


def _global_column_logsumexp(log_q: Tensor) -> Tensor:
    """``log(sum over all rows on all ranks of exp(log_q))`` per column, shape ``(1, K)``."""
    if not is_distributed():
        return torch.logsumexp(log_q, dim=0, keepdim=True)
    col_max = all_reduce_max(log_q.max(dim=0, keepdim=True).values)
    col_sum = all_reduce_sum(torch.exp(log_q - col_max).sum(dim=0, keepdim=True))
    # col_sum >= 1 on the rank that holds the maximum, so the logarithm is finite.
    return col_max + torch.log(col_sum)


@torch.no_grad()
def sinkhorn_knopp(scores: Tensor,
                   epsilon: float = 0.05,
                   num_iters: int = 3,
                   queue: Optional[Tensor] = None) -> Tensor:
    """Soft, equipartitioned assignments of samples to concepts (SwAV's Sinkhorn-Knopp).

    Computed without gradient. When ``torch.distributed`` is initialised with more than
    one process, every rank must call this together: the concept (column) sums are
    all-reduced so the rows of all ranks form one transport problem.

    Args:
        scores: ``(N, K)`` codes of this rank's batch (cosine similarities in [-1, 1]).
        epsilon: entropic regularisation; smaller gives sharper assignments. SwAV's 0.05.
        num_iters: number of (column, row) normalisation rounds, at least 1. SwAV's 3.
        queue: optional ``(L, K)`` scores of past batches (detached), solved together with
            the batch (prepended to it) so that small batches still give a meaningful
            problem; only the batch's rows are returned.

    Returns:
        ``(N, K)`` targets with the dtype and device of ``scores``; every row sums to one.
        With many iterations each column's sum over the (global, queue included) rows
        tends to ``rows / K``.
    """
    if scores.dim() != 2:
        raise ValueError(f'sinkhorn_knopp: scores must be (N, K), got {tuple(scores.shape)}')
    if not epsilon > 0:
        raise ValueError(f'sinkhorn_knopp: epsilon must be positive, got {epsilon}')
    if int(num_iters) != num_iters or num_iters < 1:
        raise ValueError(f'sinkhorn_knopp: num_iters must be an integer >= 1, got {num_iters}')
    num_rows = scores.shape[0]
    log_q = scores.detach().to(torch.float64)
    if queue is not None:
        if queue.dim() != 2 or queue.shape[1] != scores.shape[1]:
            raise ValueError(f'sinkhorn_knopp: queue must be (L, {scores.shape[1]}) to match '
                             f'scores {tuple(scores.shape)}, got {tuple(queue.shape)}')
        log_q = torch.cat([queue.detach().to(log_q), log_q], dim=0)
    log_q = log_q / epsilon
    for _ in range(int(num_iters)):
        log_q = log_q - _global_column_logsumexp(log_q)
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True)
    return torch.exp(log_q[log_q.shape[0] - num_rows:]).to(scores.dtype)
