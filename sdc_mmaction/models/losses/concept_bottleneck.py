"""Concept bottleneck regularisers: diversity (Eq. 5) and fidelity (Eq. 6)."""
from typing import Sequence

from torch import Tensor


def diversity_loss(codes: Sequence[Tensor]) -> Tensor:
    """Eq. 5: L1 norm of the concept codes, summed over views.

    Args:
        codes: the codes of each view, e.g. ``(q_s (N, Ks), q_d (N, Kd), q_v (N, Ks+Kd))``.

    Returns:
        Scalar: ``sum_views mean_n ||q_n||_1`` (the L1 norm sums over concepts as in Eq. 5;
        the batch is averaged). Codes are cosines, so each view contributes at most K.
    """
    if len(codes) == 0:
        raise ValueError('diversity_loss needs the codes of at least one view')
    total = 0
    for code in codes:
        if code.dim() != 2:
            raise ValueError(f'diversity_loss: codes must be (N, K), got {tuple(code.shape)}')
        total = total + code.float().abs().sum(dim=1).mean()
    return total


def fidelity_loss(reconstructions: Sequence[Tensor], features: Sequence[Tensor]) -> Tensor:
    """Eq. 6: squared error between ``g(q)`` and the pooled feature it reconstructs.

    The target features are detached (stop-gradient), so this loss trains the codes (and
    through them prototypes, projection and backbone) and the decoder ``g``, but never
    pulls the features toward their reconstruction.

    Scale: Eq. 6's squared L2 norm sums over the C channels, which grows with C (512 for
    R(2+1)D-18) and would dwarf the alignment loss at beta = 1. We average over channels
    (and over the batch) instead, i.e. Eq. 6 divided by C: a per-channel mean squared
    error, of the order of the squared feature values, so beta = 1 stays a sensible
    default whatever the width.

    Args:
        reconstructions: ``g_view(q_view)`` per view, each ``(N, C)``.
        features: the pooled features of the same views, each ``(N, C)``.

    Returns:
        Scalar: ``sum_views mean_{n, c} (g(q) - x)^2``.
    """
    if len(reconstructions) != len(features) or len(features) == 0:
        raise ValueError('fidelity_loss needs one reconstruction per feature, got '
                         f'{len(reconstructions)} reconstructions and {len(features)} features')
    total = 0
    for recon, feat in zip(reconstructions, features):
        if recon.shape != feat.shape or recon.dim() != 2:
            raise ValueError(f'fidelity_loss: reconstruction {tuple(recon.shape)} and feature '
                             f'{tuple(feat.shape)} must both be (N, C)')
        total = total + (recon.float() - feat.detach().float()).pow(2).mean()
    return total
