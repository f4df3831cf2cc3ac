"""Eq. 4 with a target network's targets, and Eq. 4 with label targets: two variants of
the alignment loss that the study uses to ask where the dynamic half fails. Neither is
SDC."""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from sdc_mmaction.models.losses import (check_alignment_codes, sinkhorn_knopp,
                                        swapped_prediction_loss)


def teacher_alignment_loss(static_codes: Tensor,
                           diff_codes: Tensor,
                           clip_codes: Tensor,
                           temperature: float = 0.1,
                           epsilon: float = 0.05,
                           num_iters: int = 3,
                           queues: Optional[Dict[str, Tensor]] = None,
                           return_parts: bool = False,
                           target_codes: Optional[Dict[str, Tensor]] = None):
    """Eq. 4 with some views' targets taken from a target network (not the paper).

    Without ``target_codes`` it equals
    :func:`sdc_mmaction.models.losses.concept_alignment_loss`.

    Args:
        static_codes: ``q_s``, ``(N, Ks)``.
        diff_codes: ``q_d``, ``(N, Kd)``.
        clip_codes: ``q_v``, ``(N, Ks + Kd)``; columns ``[:Ks]`` are static, ``[Ks:]``
            dynamic.
        temperature: softmax temperature ``tau`` of the predictions.
        epsilon, num_iters: Sinkhorn-Knopp settings for the targets.
        queues: optional past codes per view, ``dict(clip=(L, Ks+Kd), static=(L, Ks),
            diff=(L, Kd))`` (any subset), prepended to the batch when solving the targets.
            With ``target_codes``, the ``static`` / ``diff`` queue rows must hold past
            target codes of that view, the scores its targets are solved from.
        target_codes: optional ``dict(static=(N, Ks), diff=(N, Kd))`` (either key): codes
            of the same samples from a target network (see
            ``TeacherConceptRecognizer``'s ``target_momentum``). A given view's targets
            are solved from these instead of its own codes, and its half becomes one-way:
            the clip predicts them, the view's own codes predict nothing. That one term is
            counted twice, so the half keeps the scale of Eq. 4's two terms.

    Returns:
        Scalar: ``CE(q_bar_s, q_v^s) + CE(q_bar_v^s, q_s) + CE(q_bar_d, q_v^d)
        + CE(q_bar_v^d, q_d)``, each term averaged over this rank's N samples. Under DDP the
        targets come from the global batch, and the mean of the ranks' losses equals the
        loss of one process over the global batch. With ``return_parts=True``, the tuple
        ``(static_half, dynamic_half)`` whose sum is that scalar (the two halves learn at
        very different speeds, so logs show them apart).
    """
    check_alignment_codes(static_codes, diff_codes, clip_codes)
    num_static = static_codes.shape[1]
    queues = queues or {}
    clip_queue = queues.get('clip')
    target_codes = _check_target_codes(target_codes, dict(static=static_codes,
                                                          diff=diff_codes))

    def targets(scores, queue):
        return sinkhorn_knopp(scores, epsilon=epsilon, num_iters=num_iters, queue=queue)

    def half(clip_half, view_codes, view, clip_queue_half):
        if view in target_codes:
            target_view = targets(target_codes[view], queues.get(view))
            return 2 * swapped_prediction_loss(clip_half, target_view, temperature)
        target_view = targets(view_codes, queues.get(view))
        target_clip = targets(clip_half, clip_queue_half)
        return (swapped_prediction_loss(clip_half, target_view, temperature)
                + swapped_prediction_loss(view_codes, target_clip, temperature))

    loss_static = half(clip_codes[:, :num_static], static_codes, 'static',
                       None if clip_queue is None else clip_queue[:, :num_static])
    loss_dynamic = half(clip_codes[:, num_static:], diff_codes, 'diff',
                        None if clip_queue is None else clip_queue[:, num_static:])
    if return_parts:
        return loss_static, loss_dynamic
    return loss_static + loss_dynamic


def _check_target_codes(target_codes: Optional[Dict[str, Tensor]],
                        own_codes: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """``target_codes`` checked against the views' own codes (same shape), or ``{}``."""
    if target_codes is None:
        return {}
    if not isinstance(target_codes, dict):
        raise TypeError(f'teacher_alignment_loss: target_codes must be a dict of views, got '
                        f'{type(target_codes).__name__}')
    unknown = set(target_codes) - set(own_codes)
    if unknown:
        raise KeyError(f'teacher_alignment_loss: target_codes has {sorted(unknown)}; only '
                       f'{sorted(own_codes)} can take a target network\'s codes')
    for view, codes in target_codes.items():
        if codes.shape != own_codes[view].shape:
            raise ValueError(f"teacher_alignment_loss: target_codes['{view}'] is "
                             f'{tuple(codes.shape)} but the {view} codes are '
                             f'{tuple(own_codes[view].shape)}')
    return target_codes


def label_target_loss(scores: Tensor, labels: Tensor, temperature: float = 0.1) -> Tensor:
    """Eq. 4's cross-entropy with one-hot *label* targets instead of Sinkhorn codes.

    Not part of SDC: a diagnostic that asks whether the backbone can learn a factor through
    the concept codes at all when the targets are perfect (``LabelTargetAlignHead``).

    Args:
        scores: ``(N, K)`` codes that predict (gradient flows into them).
        labels: ``(N,)`` integer class of each sample; class ``c`` is concept ``c``, so
            every label must be in ``[0, K)``.
        temperature: softmax temperature ``tau``.

    Returns:
        Scalar: ``-log softmax(scores / tau)[label]``, averaged over the N samples.
    """
    if scores.dim() != 2:
        raise ValueError(f'label_target_loss: scores must be (N, K), got {tuple(scores.shape)}')
    if labels.dim() != 1 or labels.shape[0] != scores.shape[0]:
        raise ValueError(f'label_target_loss: labels must be ({scores.shape[0]},) to match '
                         f'the scores, got {tuple(labels.shape)}')
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f'label_target_loss: labels must be integers, got {labels.dtype}')
    num_concepts = scores.shape[1]
    outside = (labels < 0) | (labels >= num_concepts)
    if outside.any():
        raise ValueError(f'label_target_loss: label {int(labels[outside][0])} is outside the '
                         f'{num_concepts} concepts [0, {num_concepts})')
    targets = F.one_hot(labels.long(), num_concepts).to(scores.dtype)
    return swapped_prediction_loss(scores, targets, temperature)
