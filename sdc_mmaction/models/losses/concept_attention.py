"""Local feature attention (Eq. 7): concept prototypes query the backbone's feature map."""
import math
from typing import Callable, Tuple

import torch
from torch import Tensor

from .precision import float32_under_autocast


@float32_under_autocast
def concept_cross_attention(prototypes: Tensor,
                            feature_map: Tensor,
                            query_proj: Callable[[Tensor], Tensor],
                            key_proj: Callable[[Tensor], Tensor],
                            value_proj: Callable[[Tensor], Tensor]) -> Tuple[Tensor, Tensor]:
    """QKV cross-attention with residual, one query per concept (Eq. 7).

    ``Q = query_proj(P)``, ``K = key_proj(X)``, ``V = value_proj(X)`` with ``X`` the
    feature map's ``L = T' * H' * W'`` locations as tokens; every concept attends over all
    locations of its own sample:

        ``A = softmax(Q K^T / sqrt(C'))``,  ``F = Q + A V``.

    The residual adds the (sample-independent) projected prototype, so ``F`` reads
    "concept k, as seen in this video".

    Args:
        prototypes: ``(K, Cp)`` concept prototypes.
        feature_map: ``(N, C, T', H', W')`` (any number of trailing location dims).
        query_proj: maps ``(K, Cp)`` to ``(K, C')``.
        key_proj, value_proj: map ``(N, L, C)`` to ``(N, L, C')``.

    Returns:
        ``(features, attention)``: ``features`` ``(N, K, C')``; ``attention``
        ``(N, K, L)``, each row a distribution over the L locations (flattened in
        ``T', H', W'`` order).
    """
    if prototypes.dim() != 2:
        raise ValueError('concept_cross_attention: prototypes must be (K, C), got '
                         f'{tuple(prototypes.shape)}')
    if feature_map.dim() < 3:
        raise ValueError('concept_cross_attention: feature_map must be (N, C, T\', H\', W\'), '
                         f'got {tuple(feature_map.shape)}')
    tokens = feature_map.flatten(2).transpose(1, 2)  # (N, L, C)
    queries = query_proj(prototypes)  # (K, C')
    keys = key_proj(tokens)  # (N, L, C')
    values = value_proj(tokens)  # (N, L, C')
    logits = torch.einsum('kc,nlc->nkl', queries, keys) / math.sqrt(queries.shape[-1])
    attention = logits.softmax(dim=-1)
    features = queries.unsqueeze(0) + torch.bmm(attention, values)
    return features, attention
