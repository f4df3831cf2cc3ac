"""CoCon's cross-view terms: agreement of similarity structure (L_sync) and of the
features themselves (L_sim) between two views of the same clips.

Both take one pooled feature per (video, block), ``(N, C)`` with ``N = B * num_blocks``,
rows of the two views in the same order. Negatives are in-batch (no queue).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from .precision import float32_under_autocast


def _check_pair(name: str, feats_a: Tensor, feats_b: Tensor) -> None:
    if feats_a.dim() != 2 or feats_b.dim() != 2 or feats_a.shape[0] != feats_b.shape[0]:
        raise ValueError(f'{name}: features {tuple(feats_a.shape)} and '
                         f'{tuple(feats_b.shape)} must be (N, C_a) and (N, C_b) with the '
                         'same N (one row per video block, same order)')
    if feats_a.shape[0] < 2:
        raise ValueError(f'{name}: needs at least 2 rows to compare, got {feats_a.shape[0]}')


def cosine_similarity_matrix(feats_a: Tensor, feats_b: Tensor) -> Tensor:
    """``(N, M)`` cosine similarities of the rows of ``feats_a`` (N, C) and ``feats_b``
    (M, C)."""
    return F.normalize(feats_a, dim=1) @ F.normalize(feats_b, dim=1).t()


@float32_under_autocast
def view_sync_loss(feats_a: Tensor, feats_b: Tensor) -> Tensor:
    """L_sync: the two views should rank pairs of clips alike.

    Each view's own cosine-similarity matrix over all ``N x N`` pairs of rows is compared
    with the other's; the loss is the mean absolute difference (CoCon's code; its slides
    write a squared difference). The views may have different channel counts.

    Args:
        feats_a: ``(N, C_a)`` features of view a.
        feats_b: ``(N, C_b)`` features of view b, same rows.

    Returns:
        Scalar ``mean_{i,j} |cos(a_i, a_j) - cos(b_i, b_j)|``.
    """
    _check_pair('view_sync_loss', feats_a, feats_b)
    sim_a = cosine_similarity_matrix(feats_a, feats_a)
    sim_b = cosine_similarity_matrix(feats_b, feats_b)
    return (sim_a - sim_b).abs().mean()


@float32_under_autocast
def cross_view_similarity_loss(feats_a: Tensor, feats_b: Tensor,
                               positive_weight: float = 0.5) -> Tensor:
    """L_sim: a row of view a should point the same way as the same row of view b, and
    away from (at most orthogonal to) every other row, other blocks of the same video
    included.

    With ``C = cos(a_i, b_j)`` over all ``N x N`` pairs, positives ``i == j``:
    ``f * mean_pos(1 - C) + (1 - f) * mean_neg(max(0, C))`` with ``f = positive_weight``,
    a hinge at cosine 0 that weighs the two classes by ``f`` however many pairs each has.
    The value is symmetric in a and b (the transposed matrix has the same positives and
    negatives), so symmetrising it changes nothing.

    Args:
        feats_a: ``(N, C)`` features of view a.
        feats_b: ``(N, C)`` features of view b, same rows.
        positive_weight: ``f`` in [0, 1]. Defaults to 0.5.

    Returns:
        Scalar loss.
    """
    _check_pair('cross_view_similarity_loss', feats_a, feats_b)
    if feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError('cross_view_similarity_loss: the views must have the same number of '
                         f'channels, got {feats_a.shape[1]} and {feats_b.shape[1]}')
    if not 0.0 <= positive_weight <= 1.0:
        raise ValueError('cross_view_similarity_loss: positive_weight must be in [0, 1], '
                         f'got {positive_weight}')
    sims = cosine_similarity_matrix(feats_a, feats_b)
    positive = torch.eye(sims.shape[0], dtype=torch.bool, device=sims.device)
    positive_term = (1.0 - sims[positive]).mean()
    negative_term = sims[~positive].clamp(min=0).mean()
    return positive_weight * positive_term + (1.0 - positive_weight) * negative_term
