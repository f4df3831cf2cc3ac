"""Decoupled concept alignment (Eq. 4): swapped prediction between views.

The static codes of the clip (``q_v^s``, the first ``Ks`` columns of ``q_v``) predict the
Sinkhorn targets of the static frame's codes ``q_s`` and vice versa; likewise the dynamic
codes of the clip (``q_v^d``, the last ``Kd`` columns) and the frame-difference codes
``q_d``. Targets carry no gradient.
"""
from typing import Dict, Optional

import torch
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
                           return_parts: bool = False,
                           target_codes: Optional[Dict[str, Tensor]] = None):
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
            With ``target_codes``, the ``static`` / ``diff`` queue rows must hold past
            target codes of that view, the scores its targets are solved from.
        target_codes: optional ``dict(static=(N, Ks), diff=(N, Kd))`` (either key): codes
            of the same samples from a target network (not in the paper; see
            ``ConceptPretrainRecognizer``'s ``target_momentum``). A given view's targets
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
    num_static, num_dynamic = static_codes.shape[1], diff_codes.shape[1]
    if clip_codes.shape[1] != num_static + num_dynamic:
        raise ValueError(f'concept_alignment_loss: clip codes have {clip_codes.shape[1]} '
                         f'columns, expected Ks + Kd = {num_static} + {num_dynamic}')
    if not (static_codes.shape[0] == diff_codes.shape[0] == clip_codes.shape[0]):
        raise ValueError('concept_alignment_loss: codes disagree on the batch size: static '
                         f'{static_codes.shape[0]}, diff {diff_codes.shape[0]}, clip '
                         f'{clip_codes.shape[0]}')
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
        raise TypeError(f'concept_alignment_loss: target_codes must be a dict of views, got '
                        f'{type(target_codes).__name__}')
    unknown = set(target_codes) - set(own_codes)
    if unknown:
        raise KeyError(f'concept_alignment_loss: target_codes has {sorted(unknown)}; only '
                       f'{sorted(own_codes)} can take a target network\'s codes')
    for view, codes in target_codes.items():
        if codes.shape != own_codes[view].shape:
            raise ValueError(f"concept_alignment_loss: target_codes['{view}'] is "
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
