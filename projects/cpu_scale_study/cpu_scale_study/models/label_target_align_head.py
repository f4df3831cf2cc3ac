"""A diagnostic variant of the global branch: one half of the clip's codes learns from
the samples' labels instead of the other view's Sinkhorn codes."""
from typing import Dict

import torch
from mmaction.registry import MODELS
from torch import Tensor

from .alignment_variants import label_target_loss
from .teacher_concept_align_head import TeacherConceptAlignHead

#: the halves of q_v that can take label targets
HALVES = ('static', 'dynamic')


@MODELS.register_module()
class LabelTargetAlignHead(TeacherConceptAlignHead):
    """``TeacherConceptAlignHead`` whose static or dynamic alignment uses the true labels.

    Not SDC. It separates two reasons why a half of the concept codes may not learn its
    factor: poor targets (Sinkhorn codes of a view that does not show the factor yet, or
    codes that have collapsed) or a backbone that does not learn the factor through the
    codes in the given schedule, even from perfect targets, perhaps because the other
    losses pull it elsewhere. With ``label_half='dynamic'`` the clip's dynamic codes
    ``q_v^d`` predict the sample's label ``c`` as concept ``c`` (one-hot, same
    temperature as Eq. 4), so train on a label list of the dynamic factor (for the
    generated dataset, ``annotations/train_dynamic.txt``). ``static`` does the same for
    ``q_v^s``. The prediction is one-way: the other view of that half (``q_d`` or
    ``q_s``) gets no alignment gradient.

    Args:
        label_half (str): ``'dynamic'`` (default) or ``'static'``: which half of ``q_v``
            learns from the labels.
        keep_other_half (bool): keep the other half's swapped prediction of Eq. 4 in the
            loss. Default False, so only the label term aligns anything.
        static_half_weight, dynamic_half_weight (float): as in :class:`TeacherConceptAlignHead`,
            each half's weight inside ``loss_aln``, whether the half learns from labels
            or from Sinkhorn codes (so ``StaticHalfWarmupHook`` acts here too).
        *args, **kwargs: as :class:`TeacherConceptAlignHead` (the fidelity and diversity terms,
            the queue and the logs are unchanged).

    Shapes:
        As :class:`ConceptAlignHead`; ``loss(pooled, codes, data_samples)`` needs the N
        data samples of the batch, each with an integer ``gt_label`` in
        ``[0, num_static_concepts)`` or ``[0, num_dynamic_concepts)``. ``aln_static`` and
        ``aln_dynamic`` in the output are the label term for the labelled half and the
        Sinkhorn term of Eq. 4 for the other (logged even when it is not trained).
    """

    def __init__(self, *args, label_half: str = 'dynamic', keep_other_half: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if label_half not in HALVES:
            raise ValueError(f'label_half must be one of {HALVES}, got {label_half!r}')
        if not isinstance(keep_other_half, bool):
            raise ValueError(f'keep_other_half must be True or False, got '
                             f'{keep_other_half!r}')
        self.label_half = label_half
        self.keep_other_half = keep_other_half
        if self.dynamic_code_regression_weight > 0:
            # this head takes no target network's codes (its targets are labels)
            raise ValueError(f'{type(self).__name__} does not support '
                             f'dynamic_code_regression_weight='
                             f'{self.dynamic_code_regression_weight}; leave it at 0')

    def _labels(self, data_samples, num_samples: int) -> Tensor:
        name = type(self).__name__
        if data_samples is None or len(data_samples) != num_samples:
            got = 'none' if data_samples is None else len(data_samples)
            raise ValueError(f'{name}.loss needs the {num_samples} data samples of the batch '
                             f'(with gt_label), got {got}')
        labels = []
        for index, sample in enumerate(data_samples):
            if 'gt_label' not in sample:
                raise KeyError(f'{name}: data sample {index} has no gt_label; train on an '
                               f'annotation list with labels')
            label = sample.gt_label
            if label.numel() != 1:
                raise ValueError(f'{name}: data sample {index} has gt_label of shape '
                                 f'{tuple(label.shape)}; one class per sample is needed')
            labels.append(label.reshape(()))
        return torch.stack(labels)

    def loss(self, pooled: Dict[str, Tensor], codes: Dict[str, Tensor],
             data_samples=None) -> Dict[str, Tensor]:
        """``loss_aln`` with label targets for one half, ``loss_fid``, ``loss_div``."""
        self._check_loss_inputs(pooled, codes)
        labels = self._labels(data_samples, codes['clip'].shape[0]).to(
            codes['clip'].device)
        sinkhorn_static, sinkhorn_dynamic = self._alignment_halves(codes)
        ks = self.num_static_concepts
        if self.label_half == 'dynamic':
            predicting = codes['clip'][:, ks:]
            other, replaced = sinkhorn_static, sinkhorn_dynamic
        else:
            predicting = codes['clip'][:, :ks]
            other, replaced = sinkhorn_dynamic, sinkhorn_static
        try:
            labelled = label_target_loss(predicting, labels, self.temperature)
        except ValueError as error:
            raise ValueError(f'{type(self).__name__} ({self.label_half} half): {error}; '
                             f'train on a label list with at most {predicting.shape[1]} '
                             f'classes') from None
        # The unused terms stay in the graph at weight 0, so every parameter still gets a
        # gradient and DDP needs no find_unused_parameters.
        if self.label_half == 'dynamic':
            labelled_weight, other_weight = self.dynamic_half_weight, self.static_half_weight
        else:
            labelled_weight, other_weight = self.static_half_weight, self.dynamic_half_weight
        other_weight = other_weight if self.keep_other_half else 0
        alignment = labelled_weight * labelled + other_weight * other + 0 * replaced
        if self.label_half == 'dynamic':
            return self._weighted_losses(pooled, codes, alignment, other, labelled)
        return self._weighted_losses(pooled, codes, alignment, labelled, other)
