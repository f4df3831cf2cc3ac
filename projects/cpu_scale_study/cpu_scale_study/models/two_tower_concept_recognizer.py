"""Not the paper: one backbone per half of Eq. 4, so the two halves do not compete for one
network."""
import copy
from typing import Dict

import torch
from torch import Tensor

from mmaction.registry import MODELS

from .teacher_concept_recognizer import TeacherConceptRecognizer

#: the outputs of :meth:`ConceptPretrainRecognizer.features` that the dynamic tower gives
DYNAMIC_OUTPUTS = ('q_v_d', 'p_v_d', 'F_v_d', 'd', 'q_d', 'F_d', 'attn_d')
#: the halves of Eq. 4 that each tower leaves out of its loss (logged at weight 0 only)
UNTRAINED_HALF_LOGS = dict(static='aln_dynamic', dynamic='aln_static')


@MODELS.register_module()
class TwoTowerConceptRecognizer(TeacherConceptRecognizer):
    """SDC with a static tower and a dynamic tower: one backbone (and concept heads) per
    half of the alignment loss (Eq. 4). Not in the paper, which shares one backbone.

    Why: on the generated dataset, with one shared backbone, the static half learns the
    scene within a few hundred iterations and pulls the backbone towards it before the
    dynamic half has started; whether the dynamic half ever starts then depends on the
    seed (the study's README, "What fixes it").

    The model itself is the static tower: a :class:`TeacherConceptRecognizer` built from
    the arguments with the dynamic half of Eq. 4 at weight 0, no target network and no
    code regression. ``dynamic_tower`` is a second one, built from the same arguments
    with the static half at weight 0 and the ``target_momentum``, ``target_views`` and
    the align head's ``dynamic_code_regression_weight`` as given. Both see every view
    (the static tower's frame difference and the dynamic tower's static frame still feed
    their ``L_fid``, ``L_div`` and ``L_loc``). The loss is the sum of both towers'
    losses; the dynamic tower's keys get the suffix ``_dyn`` where the static tower has
    the same key, and each tower's untrained half of Eq. 4 is not logged, so
    ``aln_static`` comes from the static tower and ``aln_dynamic`` from the dynamic one.

    Hooks reach the static tower's heads under their usual names (``align_head``,
    ``local_head``) and the dynamic tower's as ``dynamic_tower.align_head`` and
    ``dynamic_tower.local_head`` (their ``head_name``), e.g. one
    ``LocalLossWarmupHook`` per tower. The score queue is refused (``queue_length``
    must be 0): ``ConceptQueueHook`` saves one head's queue.

    Args:
        **kwargs: the arguments of :class:`TeacherConceptRecognizer`; the align head must
            be a ``TeacherConceptAlignHead`` (it has the half weights). ``shared_backbone``
            must stay True (one backbone per tower, shared by that tower's views).

    Outputs: as :class:`ConceptPretrainRecognizer`, with ``v`` the two towers' pooled
    clip features side by side, (N, 2C); ``q_v`` = [q_v^s of the static tower, q_v^d of
    the dynamic tower] (N, Ks + Kd), and ``F_v``, ``attn_v`` put together the same way;
    ``s``, ``q_s``, ``F_s``, ``attn_s``, ``q_v_s``, ``p_v_s``, ``F_v_s`` from the static
    tower and ``d``, ``q_d``, ``F_d``, ``attn_d``, ``q_v_d``, ``p_v_d``, ``F_v_d`` from
    the dynamic tower. The exported backbone (``backbone.`` keys, see
    ``tools/convert_pretrained.py``) is the static tower's; the dynamic tower's is under
    ``dynamic_tower.backbone.`` in the checkpoint.
    """

    def __init__(self, **kwargs) -> None:
        if not kwargs.get('shared_backbone', True):
            raise ValueError('TwoTowerConceptRecognizer: shared_backbone must be True '
                             '(each tower shares one backbone across its views)')
        queue_length = kwargs.get('align_head', {}).get('queue_length', 0)
        if queue_length:
            raise ValueError(f'TwoTowerConceptRecognizer: align_head.queue_length must be 0 '
                             f'(got {queue_length}); ConceptQueueHook saves the queue of one '
                             'head only')
        dynamic = copy.deepcopy(kwargs)
        dynamic['align_head'] = dict(dynamic['align_head'], static_half_weight=0.0)
        static = dict(kwargs, target_momentum=None)
        static['align_head'] = dict(kwargs['align_head'], dynamic_half_weight=0.0,
                                    dynamic_code_regression_weight=0.0)
        super().__init__(**static)
        self.dynamic_tower = TeacherConceptRecognizer(**dynamic)

    @property
    def dynamic_half_model(self) -> TeacherConceptRecognizer:
        """The dynamic tower: it computes ``q_v^d`` from its own pooled clip feature, the
        last C channels of this model's ``v``."""
        return self.dynamic_tower

    def loss(self, inputs: Tensor, data_samples=None) -> Dict[str, Tensor]:
        """Both towers' weighted losses (see the class docstring for the names)."""
        losses = {k: v for k, v in super().loss(inputs, data_samples).items()
                  if k != UNTRAINED_HALF_LOGS['static']}
        for key, value in self.dynamic_tower.loss(inputs, data_samples).items():
            if key == UNTRAINED_HALF_LOGS['dynamic']:
                continue
            losses[f'{key}_dyn' if key in losses else key] = value
        return losses

    def features(self, inputs: Tensor, data_samples=None,
                 derive_views: bool = False) -> Dict[str, Tensor]:
        """Each tower's features, put together (see the class docstring)."""
        static = super().features(inputs, data_samples, derive_views)
        dynamic = self.dynamic_tower.features(inputs, data_samples, derive_views)
        out = dict(static)
        out.update((name, dynamic[name]) for name in DYNAMIC_OUTPUTS if name in dynamic)
        num_static = self.num_static_concepts
        out['v'] = torch.cat([static['v'], dynamic['v']], dim=1)
        out['q_v'] = torch.cat([static['q_v_s'], dynamic['q_v_d']], dim=1)
        if 'F_v' in static:
            out['F_v'] = torch.cat([static['F_v_s'], dynamic['F_v_d']], dim=1)
            out['attn_v'] = torch.cat([static['attn_v'][:, :num_static],
                                       dynamic['attn_v'][:, num_static:]], dim=1)
        return out


__all__ = ['TwoTowerConceptRecognizer']
