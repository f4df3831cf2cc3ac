"""DCLR's losses (Ding et al., ACM MM 2022): multi-positive InfoNCE against a queue with
cross-video positives, and the activation alignment between the clip and its static and
dynamic parts. Pure functions over tensors; the model (``DCLR``) wires them.

Shapes: N queries, K queue rows, D embedding channels, (T, H, W) the cells of a feature map.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .precision import float32_under_autocast


@float32_under_autocast
def multi_positive_info_nce(query: Tensor,
                            positive_key: Tensor,
                            queue: Tensor,
                            queue_positives: Optional[Tensor] = None,
                            temperature: float = 0.07) -> Tensor:
    """InfoNCE over ``[positive_key, queue]`` with extra positives among the queue rows.

    For query ``i`` the logits are ``[q_i . k_i, q_i . Q_1, ..., q_i . Q_K] / temperature``;
    the loss is ``-log`` of the softmax mass on the positive key and on the queue rows
    marked in ``queue_positives[i]`` (MoCo's InfoNCE when none is marked).

    Args:
        query: (N, D) embeddings, L2-normalised by the caller.
        positive_key: (N, D) the positive key of each query.
        queue: (K, D) negatives (and candidate positives).
        queue_positives: (N, K) bool, the queue rows that are also positives of each
            query. None: no extra positives.
        temperature: softmax temperature, > 0.

    Returns:
        Scalar: the mean over the N queries. Under DDP the mean of the ranks' values is
        the value of one process over the global batch (the queue is the same on every
        rank).
    """
    if query.dim() != 2 or query.shape != positive_key.shape:
        raise ValueError(f'multi_positive_info_nce: query {tuple(query.shape)} and '
                         f'positive_key {tuple(positive_key.shape)} must both be (N, D)')
    if queue.dim() != 2 or queue.shape[1] != query.shape[1]:
        raise ValueError(f'multi_positive_info_nce: queue {tuple(queue.shape)} must be '
                         f'(K, {query.shape[1]})')
    if not temperature > 0:
        raise ValueError(f'multi_positive_info_nce: temperature must be positive, '
                         f'got {temperature}')
    positive_logit = (query * positive_key).sum(dim=1, keepdim=True)
    logits = torch.cat([positive_logit, query @ queue.t()], dim=1) / temperature
    positives = torch.zeros_like(logits, dtype=torch.bool)
    positives[:, 0] = True
    if queue_positives is not None:
        if queue_positives.shape != (query.shape[0], queue.shape[0]):
            raise ValueError(f'multi_positive_info_nce: queue_positives '
                             f'{tuple(queue_positives.shape)} must be '
                             f'({query.shape[0]}, {queue.shape[0]})')
        positives[:, 1:] = queue_positives.bool()
    positive_mass = torch.logsumexp(logits.masked_fill(~positives, float('-inf')), dim=1)
    return (torch.logsumexp(logits, dim=1) - positive_mass).mean()


@torch.no_grad()
def queue_affinity(anchor: Tensor, queue: Tensor) -> Tensor:
    """How much each queue row resembles each anchor: ``softmax(anchor @ queue.T)`` over
    the queue, without a temperature (the embeddings are unit vectors, so the
    distribution is flat; only its ranking is used).

    Args:
        anchor: (N, D). queue: (K, D).

    Returns:
        (N, K), each row summing to 1, no gradient.
    """
    if anchor.dim() != 2 or queue.dim() != 2 or anchor.shape[1] != queue.shape[1]:
        raise ValueError(f'queue_affinity: anchor {tuple(anchor.shape)} and queue '
                         f'{tuple(queue.shape)} must be (N, D) and (K, D)')
    return torch.softmax(anchor.float() @ queue.float().t(), dim=1)


@torch.no_grad()
def top_k_queue_positives(affinity: Tensor, top_k: int,
                          valid: Optional[Tensor] = None) -> Tensor:
    """Mark each row's ``top_k`` highest queue entries as positives.

    Args:
        affinity: (N, K) scores (e.g. :func:`queue_affinity`, or the sum of two).
        top_k: how many positives per row; 0 marks none.
        valid: (K,) bool, the queue rows that hold real keys (a queue that is still
            filling has random rows, which are never chosen). None: all rows.

    Returns:
        (N, K) bool with ``min(top_k, valid rows)`` True entries per row.
    """
    if affinity.dim() != 2:
        raise ValueError(f'top_k_queue_positives: affinity must be (N, K), got '
                         f'{tuple(affinity.shape)}')
    num_rows = affinity.shape[1]
    if not 0 <= top_k <= num_rows:
        raise ValueError(f'top_k_queue_positives: top_k={top_k} must be in [0, {num_rows}] '
                         '(the queue length)')
    mask = torch.zeros_like(affinity, dtype=torch.bool)
    if top_k == 0:
        return mask
    scores = affinity
    if valid is not None:
        if valid.shape != (num_rows, ):
            raise ValueError(f'top_k_queue_positives: valid {tuple(valid.shape)} must be '
                             f'({num_rows},)')
        scores = affinity.masked_fill(~valid.bool()[None], float('-inf'))
    chosen = scores.topk(top_k, dim=1).indices
    mask.scatter_(1, chosen, True)
    if valid is not None:
        mask &= valid.bool()[None]
    return mask


def activation_map(feature_map: Tensor) -> Tensor:
    """A_x: the sum of a feature map over its channels, (N, C, T, H, W) -> (N, T, H, W)."""
    if feature_map.dim() != 5:
        raise ValueError(f'activation_map: expected (N, C, T, H, W), got '
                         f'{tuple(feature_map.shape)}')
    return feature_map.sum(dim=1)


def normalised_activation(activation: Tensor, eps: float = 1e-6) -> Tensor:
    """Â = A / mean(A) over each sample's cells, (N, T, H, W) -> (N, T, H, W).

    ``eps`` bounds the divisor, so an all-zero map (every unit silent) gives zeros rather
    than NaN.
    """
    if activation.dim() != 4:
        raise ValueError(f'normalised_activation: expected (N, T, H, W), got '
                         f'{tuple(activation.shape)}')
    mean = activation.mean(dim=(1, 2, 3), keepdim=True)
    return activation / mean.clamp_min(eps)


def activation_weighted_pool(feature_map: Tensor, weights: Tensor) -> Tensor:
    """GAP(F ⊙ Â): average of the feature map weighted per cell.

    Args:
        feature_map: (N, C, T, H, W). weights: (N, T, H, W), e.g. another view's Â.

    Returns:
        (N, C).
    """
    if feature_map.dim() != 5 or weights.shape != (feature_map.shape[0], ) + \
            feature_map.shape[2:]:
        raise ValueError(f'activation_weighted_pool: feature map {tuple(feature_map.shape)} '
                         f'and weights {tuple(weights.shape)} do not fit (N, C, T, H, W) and '
                         '(N, T, H, W)')
    return (feature_map * weights.unsqueeze(1)).mean(dim=(2, 3, 4))


@float32_under_autocast
def activation_alignment_loss(clip_activation: Tensor, static_activation: Tensor,
                              dynamic_activation: Tensor,
                              detach_parts: bool = False,
                              normalise: bool = False) -> Tensor:
    """mean((A_v - (A_s + A_d))^2): the clip's activation is the sum of its static and
    dynamic parts.

    Args:
        clip_activation, static_activation, dynamic_activation: (N, T, H, W) activation
            maps of v, s and d on the same clip.
        detach_parts: stop the gradient through ``A_s + A_d`` (only A_v is pulled).
        normalise: compare ``A_v / mean(A_v)`` with ``(A_s + A_d) / mean(A_s + A_d)``
            (means per sample, :func:`normalised_activation`): where the clip is active,
            not how strongly. The raw maps are sums over channels, so the raw term grows
            with the square of the backbone's width.

    Returns:
        Scalar, the mean over all samples and cells.
    """
    shapes = {tuple(a.shape) for a in (clip_activation, static_activation,
                                       dynamic_activation)}
    if len(shapes) != 1:
        raise ValueError(f'activation_alignment_loss: the maps differ in shape: '
                         f'{sorted(shapes)}')
    parts = static_activation + dynamic_activation
    if detach_parts:
        parts = parts.detach()
    if normalise:
        clip_activation = normalised_activation(clip_activation)
        parts = normalised_activation(parts)
    return F.mse_loss(clip_activation, parts)
