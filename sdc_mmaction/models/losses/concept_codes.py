"""Concept codes (Eq. 3): cosine similarity between features and concept prototypes."""
import torch.nn.functional as F
from torch import Tensor

from .precision import float32_under_autocast


@float32_under_autocast
def concept_codes(features: Tensor, prototypes: Tensor, eps: float = 1e-12) -> Tensor:
    """Cosine similarity of every feature with every prototype (Eq. 3).

    Args:
        features: ``(N, C)``, the (transformed) pooled features ``sigma(x)``.
        prototypes: ``(K, C)``, one concept prototype per row.
        eps: lower bound on the norms, so that an all-zero feature gives zero codes
            instead of NaN.

    Returns:
        ``(N, K)`` codes, each entry in ``[-1, 1]``; gradients reach both inputs.
    """
    if features.dim() != 2 or prototypes.dim() != 2:
        raise ValueError('concept_codes expects features (N, C) and prototypes (K, C), got '
                         f'{tuple(features.shape)} and {tuple(prototypes.shape)}')
    if features.shape[1] != prototypes.shape[1]:
        raise ValueError(f'concept_codes: features have {features.shape[1]} channels but '
                         f'prototypes have {prototypes.shape[1]}')
    return F.normalize(features, dim=1, eps=eps) @ F.normalize(prototypes, dim=1, eps=eps).t()
