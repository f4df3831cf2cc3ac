"""Instance contrast between two views of the same videos (InfoNCE).

Not one of the paper's equations: the authors' released code adds these terms (clip vs
static frame, clip vs frame difference, clip vs a second clip) to Eq. 11, and the quick start
uses the clip-difference one (see ``ViewContrastHead``).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from .distributed import all_gather_with_grad
from .precision import float32_under_autocast


@float32_under_autocast
def info_nce_loss(anchors: Tensor, positives: Tensor, temperature: float = 0.07) -> Tensor:
    """Symmetric InfoNCE: row ``i`` of ``anchors`` and of ``positives`` are a pair, every
    other row of the other tensor (over the global batch under DDP) is a negative.

    Args:
        anchors: ``(N, D)`` embeddings of one view (L2-normalised here).
        positives: ``(N, D)`` embeddings of the other view, same videos in the same order.
        temperature: softmax temperature of the cosine similarities.

    Returns:
        Scalar: ``(CE(a -> p) + CE(p -> a)) / 2``, each the mean over this rank's N rows of
        ``-log softmax_j(cos(a_i, p_j) / t)[i]``. Under DDP the mean of the ranks' losses
        equals the loss of one process over the global batch.
    """
    if anchors.dim() != 2 or anchors.shape != positives.shape:
        raise ValueError(f'info_nce_loss: anchors {tuple(anchors.shape)} and positives '
                         f'{tuple(positives.shape)} must both be (N, D)')
    if not temperature > 0:
        raise ValueError(f'info_nce_loss: temperature must be positive, got {temperature}')
    anchors = F.normalize(anchors, dim=1)
    positives = F.normalize(positives, dim=1)
    all_anchors, offset = all_gather_with_grad(anchors)
    all_positives, _ = all_gather_with_grad(positives)
    targets = torch.arange(anchors.shape[0], device=anchors.device) + offset
    anchor_to_positive = anchors @ all_positives.t() / temperature
    positive_to_anchor = positives @ all_anchors.t() / temperature
    return 0.5 * (F.cross_entropy(anchor_to_positive, targets)
                  + F.cross_entropy(positive_to_anchor, targets))
