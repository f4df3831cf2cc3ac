"""Dense predictive coding loss (DPC), the per-view term L_cpc of CoCon.

See ``BASELINES_NOTES.md`` (section 2) for the source of each choice; the equation is the
InfoNCE of DPC over every (sample, future step, spatial cell) of a batch.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from .precision import float32_under_autocast


@float32_under_autocast
def dense_predictive_loss(predictions: Tensor, targets: Tensor,
                          temperature: float = 0.07 ** 2) -> Tensor:
    """InfoNCE between predicted and true future block features, one positive per query.

    Every prediction (sample ``b``, future step ``k``, cell ``(y, x)``) is scored against
    every true feature of the batch; its positive is the true feature of the same sample,
    step and cell, and all other ``B * K * H * W - 1`` entries (other cells, other steps
    and other samples) are its negatives.

    Args:
        predictions: ``(B, K, C, H, W)`` predicted features of the K future blocks.
        targets: ``(B, K, C, H, W)`` the encoder's features of the same blocks.
        temperature: divides the dot products. CoCon's code divides both sides by 0.07,
            i.e. a temperature of ``0.07 ** 2`` on the product, which is the default.

    Returns:
        Scalar: the mean over the ``B * K * H * W`` queries of
        ``-log softmax_j(p_i . f_j / temperature)[i]``.
    """
    if predictions.dim() != 5 or predictions.shape != targets.shape:
        raise ValueError(f'dense_predictive_loss: predictions {tuple(predictions.shape)} and '
                         f'targets {tuple(targets.shape)} must both be (B, K, C, H, W)')
    if not temperature > 0:
        raise ValueError(
            f'dense_predictive_loss: temperature must be positive, got {temperature}')
    channels = predictions.shape[2]
    # rows ordered (b, k, y, x) on both sides, so the positive of row i is column i
    queries = predictions.permute(0, 1, 3, 4, 2).reshape(-1, channels)
    keys = targets.permute(0, 1, 3, 4, 2).reshape(-1, channels)
    logits = queries @ keys.t() / temperature
    labels = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, labels)
