"""Local concept contrast: valid concepts (Eq. 8), margin loss (Eq. 9), symmetric sum (Eq. 10).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from .distributed import all_gather_with_grad, all_reduce_sum, get_dist_info
from .precision import float32_under_autocast


def top_k_mask(codes: Tensor, top_k: int) -> Tensor:
    """Boolean ``(N, K)`` mask of each row's ``top_k`` largest codes (ties: torch.topk's)."""
    if codes.dim() != 2:
        raise ValueError(f'top_k_mask: codes must be (N, K), got {tuple(codes.shape)}')
    if int(top_k) != top_k or not 1 <= top_k <= codes.shape[1]:
        raise ValueError(f'top_k must be an integer in [1, {codes.shape[1]}] (the number of '
                         f'concepts), got {top_k}')
    indices = codes.detach().topk(int(top_k), dim=1).indices
    mask = torch.zeros(codes.shape, dtype=torch.bool, device=codes.device)
    return mask.scatter_(1, indices, True)


def valid_concept_mask(codes_a: Tensor, codes_b: Tensor, top_k: int) -> Tensor:
    """Eq. 8: concepts among the top-K of both views' codes.

    Args:
        codes_a, codes_b: ``(N, K)`` codes of the same concepts from two views, e.g.
            ``q_s`` and ``q_v^s``.
        top_k: K of Eq. 8 (the number of concepts kept per view before intersecting).

    Returns:
        Boolean ``(N, K)``: ``True`` where concept k is in both top-K sets of sample n.
    """
    if codes_a.shape != codes_b.shape:
        raise ValueError(f'valid_concept_mask: codes {tuple(codes_a.shape)} and '
                         f'{tuple(codes_b.shape)} differ in shape')
    return top_k_mask(codes_a, top_k) & top_k_mask(codes_b, top_k)


@float32_under_autocast
def concept_margin_loss(anchor: Tensor,
                        other: Tensor,
                        valid: Tensor,
                        margin: float = 1.4,
                        normalize: bool = True) -> Tensor:
    """Eq. 9: contrast the local features of valid concepts across two views.

    For each valid pair (sample n, concept k):

        ``||a_nk - o_nk||^2 + mean_{m != n} max(margin - ||a_nk - o_mk||, 0)^2``

    where ``a`` is ``anchor``, ``o`` is ``other`` and the negatives ``o_mk`` are the same
    concept of every other video in the (global) batch, whether or not k is valid for m.
    The paper sums over negatives; averaging them (as the authors' code did) keeps the
    loss independent of the batch size. The sum over valid pairs is divided by the number
    of valid pairs.

    Features are L2-normalised first by default: distances then lie in [0, 2] and the
    default margin 1.4 (about sqrt(2), the distance of orthogonal unit vectors) is the
    value the authors used with normalised features. With ``normalize=False`` the margin
    must be chosen for the raw feature scale.

    Distributed (DDP, world size W > 1): the negatives come from the global batch (the
    ``other`` features of all ranks are all-gathered with gradient), and the loss is
    ``W * local_sum / global_valid_count``, so that the mean of the ranks' losses, and the
    DDP-averaged gradient, equal those of one process over the global batch (the same
    convention as a batch-mean loss). All ranks must call it together, with equal N.

    Args:
        anchor: ``(N, K, C)`` local features of the anchor view, e.g. ``F_s``.
        other: ``(N, K, C)`` local features of the other view, e.g. ``F_v^s``.
        valid: boolean ``(N, K)`` valid concepts (Eq. 8).
        margin: ``lambda`` of Eq. 9.
        normalize: L2-normalise the features along C before the distances.

    Returns:
        Scalar; exactly 0 (still attached to the graph of both inputs) when no pair is
        valid anywhere.
    """
    if anchor.dim() != 3 or anchor.shape != other.shape:
        raise ValueError('concept_margin_loss: anchor and other must both be (N, K, C), got '
                         f'{tuple(anchor.shape)} and {tuple(other.shape)}')
    if valid.shape != anchor.shape[:2]:
        raise ValueError(f'concept_margin_loss: valid must be (N, K) = {tuple(anchor.shape[:2])}'
                         f', got {tuple(valid.shape)}')
    anchor, other = anchor.float(), other.float()
    if normalize:
        anchor = F.normalize(anchor, dim=-1)
        other = F.normalize(other, dim=-1)
    _, world_size = get_dist_info()
    valid = valid.to(anchor.dtype)

    positive = (anchor - other).pow(2).sum(dim=-1)  # (N, K)

    negatives, offset = all_gather_with_grad(other)  # (M, K, C), M = global batch
    num_local, num_global = anchor.shape[0], negatives.shape[0]
    # Squared distances of every anchor to every gathered feature of the same concept,
    # via |a|^2 + |o|^2 - 2 a.o, which avoids an (N, M, K, C) difference tensor.
    sq_dist = (anchor.pow(2).sum(-1).unsqueeze(1) + negatives.pow(2).sum(-1).unsqueeze(0)
               - 2 * torch.einsum('nkc,mkc->nmk', anchor, negatives))  # (N, M, K)
    # The clamp keeps sqrt's gradient finite where a distance is zero (the masked-out
    # diagonal, or duplicated features): 0 * inf would otherwise make NaN.
    dist = sq_dist.clamp(min=1e-12).sqrt()
    hinge = (margin - dist).clamp(min=0).pow(2)
    not_self = torch.ones(num_local, num_global, 1, dtype=hinge.dtype, device=hinge.device)
    rows = torch.arange(num_local, device=hinge.device)
    not_self[rows, offset + rows] = 0
    negative = (hinge * not_self).sum(dim=1) / max(num_global - 1, 1)  # (N, K)

    # Masking by multiplication (not indexing) keeps the graph, and the collectives, the
    # same on every rank even where a rank has no valid pair.
    local_sum = ((positive + negative) * valid).sum()
    global_count = all_reduce_sum(valid.sum())
    return world_size * local_sum / global_count.clamp(min=1)


def local_concept_loss(static_features: Tensor,
                       clip_static_features: Tensor,
                       static_valid: Tensor,
                       diff_features: Tensor,
                       clip_dynamic_features: Tensor,
                       dynamic_valid: Tensor,
                       margin: float = 1.4,
                       normalize: bool = True) -> Tensor:
    """Eq. 10: the margin loss of Eq. 9 in both directions, for static and dynamic concepts.

    Args:
        static_features: ``F_s``, ``(N, Ks, C)``.
        clip_static_features: ``F_v^s``, ``(N, Ks, C)`` (the first Ks concepts of ``F_v``).
        static_valid: boolean ``(N, Ks)``, Eq. 8 on ``q_s`` and ``q_v^s``.
        diff_features: ``F_d``, ``(N, Kd, C)``.
        clip_dynamic_features: ``F_v^d``, ``(N, Kd, C)`` (the last Kd concepts of ``F_v``).
        dynamic_valid: boolean ``(N, Kd)``, Eq. 8 on ``q_d`` and ``q_v^d``.
        margin, normalize: see :func:`concept_margin_loss`.

    Returns:
        Scalar ``l(F_s, F_v^s) + l(F_v^s, F_s) + l(F_d, F_v^d) + l(F_v^d, F_d)``.
    """
    def term(anchor, other, valid):
        return concept_margin_loss(anchor, other, valid, margin=margin, normalize=normalize)

    return (term(static_features, clip_static_features, static_valid)
            + term(clip_static_features, static_features, static_valid)
            + term(diff_features, clip_dynamic_features, dynamic_valid)
            + term(clip_dynamic_features, diff_features, dynamic_valid))
