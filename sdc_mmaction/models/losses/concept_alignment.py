"""Decoupled concept alignment (Eq. 4): swapped prediction between views.

The static codes of the clip (``q_v^s``, the first ``Ks`` columns of ``q_v``) predict the
Sinkhorn targets of the static frame's codes ``q_s`` and vice versa; likewise the dynamic
codes of the clip (``q_v^d``, the last ``Kd`` columns) and the frame-difference codes
``q_d``. Targets carry no gradient.
"""
from typing import Dict, Optional

import torch.nn.functional as F
from torch import Tensor

from .sinkhorn import sinkhorn_knopp


def concept_predictions(scores: Tensor, temperature: float = 0.1) -> Tensor:
    """The concept distribution that Eq. 4 predicts from codes: ``softmax(scores / tau)``.

    Eq. 4 never sees a shift shared by all of a sample's codes, nor differences that the
    temperature leaves far below the largest code; this is the part of the codes it aligns,
    and the analyses probe it beside the raw codes.

    Args:
        scores: ``(N, K)`` codes (e.g. ``q_v^d``).
        temperature: softmax temperature ``tau`` of Eq. 4.

    Returns:
        ``(N, K)``, each row a probability distribution over the K concepts.
    """
    if scores.dim() != 2:
        raise ValueError(f'concept_predictions: scores must be (N, K), got '
                         f'{tuple(scores.shape)}')
    if isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(f'concept_predictions: temperature must be positive, got '
                         f'{temperature!r}')
    return F.softmax(scores.float() / temperature, dim=1)


def swapped_prediction_loss(scores: Tensor, targets: Tensor, temperature: float = 0.1) -> Tensor:
    """Cross-entropy between fixed targets and ``softmax(scores / temperature)``.

    Args:
        scores: ``(N, K)`` codes of the predicting view (gradient flows into them).
        targets: ``(N, K)`` soft targets of the other view; detached here.
        temperature: softmax temperature ``tau``.

    Returns:
        Scalar: ``-sum_k targets * log_softmax(scores / tau)``, averaged over the N samples.
    """
    if scores.shape != targets.shape:
        raise ValueError(f'swapped_prediction_loss: scores {tuple(scores.shape)} and targets '
                         f'{tuple(targets.shape)} differ in shape')
    if not temperature > 0:
        raise ValueError(f'swapped_prediction_loss: temperature must be positive, got '
                         f'{temperature}')
    log_prob = F.log_softmax(scores.float() / temperature, dim=1)
    return -(targets.detach().float() * log_prob).sum(dim=1).mean()


def concept_alignment_loss(static_codes: Tensor,
                           diff_codes: Tensor,
                           clip_codes: Tensor,
                           temperature: float = 0.1,
                           epsilon: float = 0.05,
                           num_iters: int = 3,
                           queues: Optional[Dict[str, Tensor]] = None,
                           return_parts: bool = False):
    """Eq. 4: static and dynamic swapped-prediction losses, summed.

    Args:
        static_codes: ``q_s``, ``(N, Ks)``.
        diff_codes: ``q_d``, ``(N, Kd)``.
        clip_codes: ``q_v``, ``(N, Ks + Kd)``; columns ``[:Ks]`` are static, ``[Ks:]``
            dynamic.
        temperature: softmax temperature ``tau`` of the predictions.
        epsilon, num_iters: Sinkhorn-Knopp settings for the targets.
        queues: optional past codes per view, ``dict(clip=(L, Ks+Kd), static=(L, Ks),
            diff=(L, Kd))`` (any subset), prepended to the batch when solving the targets.
        return_parts: return the two halves apart (see below).

    Returns:
        Scalar: ``CE(q_bar_s, q_v^s) + CE(q_bar_v^s, q_s) + CE(q_bar_d, q_v^d)
        + CE(q_bar_v^d, q_d)``, each term averaged over this rank's N samples. Under DDP the
        targets come from the global batch, and the mean of the ranks' losses equals the
        loss of one process over the global batch. With ``return_parts=True``, the tuple
        ``(static_half, dynamic_half)`` whose sum is that scalar (the two halves learn at
        very different speeds, so logs show them apart).
    """
    check_alignment_codes(static_codes, diff_codes, clip_codes)
    queues = queues or {}
    clip_queue = queues.get('clip')
    num_static = static_codes.shape[1]

    def half(clip_half, view_codes, view, clip_queue_half):
        target_view = sinkhorn_knopp(view_codes, epsilon=epsilon, num_iters=num_iters,
                                     queue=queues.get(view))
        target_clip = sinkhorn_knopp(clip_half, epsilon=epsilon, num_iters=num_iters,
                                     queue=clip_queue_half)
        return (swapped_prediction_loss(clip_half, target_view, temperature)
                + swapped_prediction_loss(view_codes, target_clip, temperature))

    loss_static = half(clip_codes[:, :num_static], static_codes, 'static',
                       None if clip_queue is None else clip_queue[:, :num_static])
    loss_dynamic = half(clip_codes[:, num_static:], diff_codes, 'diff',
                        None if clip_queue is None else clip_queue[:, num_static:])
    if return_parts:
        return loss_static, loss_dynamic
    return loss_static + loss_dynamic


def check_alignment_codes(static_codes: Tensor, diff_codes: Tensor,
                          clip_codes: Tensor) -> None:
    """Raise unless ``q_v`` has ``Ks + Kd`` columns and the three views one batch size."""
    num_static, num_dynamic = static_codes.shape[1], diff_codes.shape[1]
    if clip_codes.shape[1] != num_static + num_dynamic:
        raise ValueError(f'concept_alignment_loss: clip codes have {clip_codes.shape[1]} '
                         f'columns, expected Ks + Kd = {num_static} + {num_dynamic}')
    if not (static_codes.shape[0] == diff_codes.shape[0] == clip_codes.shape[0]):
        raise ValueError('concept_alignment_loss: codes disagree on the batch size: static '
                         f'{static_codes.shape[0]}, diff {diff_codes.shape[0]}, clip '
                         f'{clip_codes.shape[0]}')
