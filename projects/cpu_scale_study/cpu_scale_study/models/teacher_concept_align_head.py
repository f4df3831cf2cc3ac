"""The align head with the study's extra settings: per-half weights, a target network's
targets, the fidelity term kept off ``q_v^d``, and a regression of ``q_v^d``. Not SDC."""
from typing import Dict, Optional, Tuple

import torch
from mmaction.registry import MODELS
from torch import Tensor

from sdc_mmaction.models.heads import ConceptAlignHead
from sdc_mmaction.models.heads.concept_align_head import VIEW_NAMES, _check_non_negative
from sdc_mmaction.models.losses import diversity_loss, fidelity_loss

from .alignment_variants import teacher_alignment_loss
from .code_regression import code_regression_loss


@MODELS.register_module()
class TeacherConceptAlignHead(ConceptAlignHead):
    """:class:`~sdc_mmaction.models.heads.ConceptAlignHead` with the settings the study
    varied. With every argument at its default it computes the same losses as the core
    head.

    Args:
        static_half_weight (float): weight of the static half of Eq. 4 inside
            ``loss_aln``. Default 1.0 (the paper's sum). ``StaticHalfWarmupHook`` sets it
            per epoch; a two-tower model sets the half a tower does not train to 0.
        dynamic_half_weight (float): the same for the dynamic half. Default 1.0.
        fidelity_through_dynamic_clip_codes (bool): whether Eq. 6's gradient reaches
            ``q_v^d``. True (default) is the paper. False still rebuilds ``v`` from all
            of ``q_v`` but detaches ``q_v^d`` there, so ``L_fid`` cannot write the scene,
            which dominates ``v``, into the parts of the dynamic codes that Eq. 4's
            softmax never sees (a shift shared by all of them).
        dynamic_code_regression_weight (float): 0 (default) leaves it out. Above 0,
            ``loss`` also returns ``loss_code_reg``: this weight times
            :func:`code_regression_loss` of ``q_v^d`` and the target network's codes of
            ``d``, so it needs ``target_codes['diff']`` (``TeacherConceptRecognizer``
            with 'diff' in its ``target_views``).
        *args, **kwargs: as :class:`ConceptAlignHead`.

    Shapes: as :class:`ConceptAlignHead`; ``loss(pooled, codes, data_samples=None,
    target_codes=None)`` takes ``target_codes`` ``dict(static=(N, Ks), diff=(N, Kd))``
    (either key), a target network's codes of the same samples from
    :meth:`target_codes`; that view's Sinkhorn targets are solved from them
    (:func:`teacher_alignment_loss`), and its queue rows hold them.
    """

    def __init__(self, *args, static_half_weight: float = 1.0,
                 dynamic_half_weight: float = 1.0,
                 fidelity_through_dynamic_clip_codes: bool = True,
                 dynamic_code_regression_weight: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.static_half_weight = _check_non_negative('static_half_weight',
                                                      static_half_weight)
        self.dynamic_half_weight = _check_non_negative('dynamic_half_weight',
                                                       dynamic_half_weight)
        if not isinstance(fidelity_through_dynamic_clip_codes, bool):
            raise ValueError(f'fidelity_through_dynamic_clip_codes must be True or False, '
                             f'got {fidelity_through_dynamic_clip_codes!r}')
        self.fidelity_through_dynamic_clip_codes = fidelity_through_dynamic_clip_codes
        self.dynamic_code_regression_weight = _check_non_negative(
            'dynamic_code_regression_weight', dynamic_code_regression_weight)

    @torch.no_grad()
    def target_codes(self, pooled: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Codes of a target network's pooled features: the same sigma and prototypes as
        :meth:`forward`, without gradient, and with sigma in eval mode, so a BatchNorm in
        it normalises with its running statistics and does not update them with the
        target network's features."""
        was_training = self.training
        self.projections.eval()
        try:
            return self.forward(pooled)
        finally:
            self.projections.train(was_training)

    def loss(self, pooled: Dict[str, Tensor], codes: Dict[str, Tensor],
             data_samples=None,
             target_codes: Optional[Dict[str, Tensor]] = None) -> Dict[str, Tensor]:
        """As :meth:`ConceptAlignHead.loss`, with the half weights, the teacher's targets
        and ``loss_code_reg`` when its weight is above 0."""
        self._check_loss_inputs(pooled, codes)
        aln_static, aln_dynamic = self._teacher_alignment_halves(codes, target_codes)
        alignment = (self.static_half_weight * aln_static
                     + self.dynamic_half_weight * aln_dynamic)
        losses = self._weighted_losses(pooled, codes, alignment, aln_static, aln_dynamic)
        if self.dynamic_code_regression_weight > 0:
            losses['loss_code_reg'] = (self.dynamic_code_regression_weight
                                       * self._dynamic_code_regression(codes, target_codes))
        return losses

    def _teacher_alignment_halves(self, codes: Dict[str, Tensor],
                                  target_codes: Optional[Dict[str, Tensor]]
                                  ) -> Tuple[Tensor, Tensor]:
        queues = self._active_queue_rows(codes) if self.queue_active else None
        aln_static, aln_dynamic = teacher_alignment_loss(
            codes['static'], codes['diff'], codes['clip'], temperature=self.temperature,
            epsilon=self.sinkhorn_epsilon, num_iters=self.sinkhorn_iterations, queues=queues,
            return_parts=True, target_codes=target_codes)
        if self.queue_active:
            # a view's queue holds the scores its targets are solved from
            self._push_to_queue(dict(codes, **(target_codes or {})))
        return aln_static, aln_dynamic

    def _dynamic_code_regression(self, codes: Dict[str, Tensor],
                                 target_codes: Optional[Dict[str, Tensor]]) -> Tensor:
        if not target_codes or 'diff' not in target_codes:
            raise ValueError(
                f'{type(self).__name__}: dynamic_code_regression_weight='
                f'{self.dynamic_code_regression_weight} needs target_codes["diff"], a target '
                "network's codes of the frame difference; use TeacherConceptRecognizer "
                "with 'diff' in its target_views")
        return code_regression_loss(codes['clip'][:, self.num_static_concepts:],
                                    target_codes['diff'])

    def _weighted_losses(self, pooled: Dict[str, Tensor], codes: Dict[str, Tensor],
                         alignment: Tensor, aln_static: Tensor,
                         aln_dynamic: Tensor) -> Dict[str, Tensor]:
        if self.fidelity_through_dynamic_clip_codes:
            return super()._weighted_losses(pooled, codes, alignment, aln_static,
                                            aln_dynamic)
        clip, ks = codes['clip'], self.num_static_concepts
        decoded = dict(codes, clip=torch.cat([clip[:, :ks], clip[:, ks:].detach()], 1))
        reconstructions = [self.decoders[view](decoded[view]) for view in VIEW_NAMES]
        return dict(
            loss_aln=self.alignment_weight * alignment,
            loss_fid=self.fidelity_weight * fidelity_loss(
                reconstructions, [pooled[view] for view in VIEW_NAMES]),
            # the diversity term still reaches every code
            loss_div=self.diversity_weight * diversity_loss(
                [codes[view] for view in VIEW_NAMES]),
            aln_static=aln_static.detach(),
            aln_dynamic=aln_dynamic.detach())


__all__ = ['TeacherConceptAlignHead']
