"""SDC whose frame-difference (or static-frame) targets come from a moving-average copy
of the backbone, a target network. Not the paper."""
import inspect
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmaction.registry import MODELS
from mmengine.model import ExponentialMovingAverage
from torch import Tensor

from sdc_mmaction.models.recognizers import ConceptPretrainRecognizer

#: the views whose targets a target network can give (the clip's are always its own)
TARGET_VIEWS = ('static', 'diff')


@MODELS.register_module()
class TeacherConceptRecognizer(ConceptPretrainRecognizer):
    """:class:`~sdc_mmaction.models.recognizers.ConceptPretrainRecognizer` with a target
    network for the Sinkhorn targets of some views.

    In the paper every view's targets come from the codes of the backbone being trained.
    Here a moving-average copy of the backbone gives the targets of ``target_views``,
    through the align head's sigma and prototypes (``TeacherConceptAlignHead``'s
    ``target_codes``); the clip then predicts those targets one-way. The copy is updated
    at the start of every ``loss`` call, before it runs, and its normalisation buffers are
    copied from the backbone. It runs in train mode, so BatchNorm normalises the target
    views by their own batch statistics. It is saved in the checkpoint
    (``target_backbones.``), so a resumed run continues it; the exported backbone does
    not include it.

    Args:
        target_momentum (float, optional): the online backbone's weight in each update,
            in OpenMMLab's convention (mmengine's ``ExponentialMovingAverage``,
            mmpretrain's BYOL): 0.001 keeps 99.9 % of the target's weights per
            iteration; in (0, 1). None (default) builds no target network, which trains
            the paper's objective.
        target_views (Sequence[str]): the views whose targets the target network gives,
            among ``('static', 'diff')``. Defaults to ``('diff',)``.
        **kwargs: as :class:`ConceptPretrainRecognizer`. The align head must take
            ``target_codes`` in its ``loss`` (``TeacherConceptAlignHead``).
    """

    def __init__(self, target_momentum: Optional[float] = None,
                 target_views: Sequence[str] = ('diff', ), **kwargs) -> None:
        super().__init__(**kwargs)
        self.target_views: Tuple[str, ...] = ()
        self.target_backbones = None
        if target_momentum is not None:
            self._build_target_backbones(target_momentum, target_views)
        code_regression = getattr(self.align_head, 'dynamic_code_regression_weight', 0)
        if code_regression > 0 and 'diff' not in self.target_views:
            raise ValueError(f'{type(self).__name__}: align_head.'
                             f'dynamic_code_regression_weight={code_regression} regresses '
                             "onto a target network's codes of 'diff', so it needs "
                             "target_momentum set and 'diff' in target_views (got "
                             f'target_momentum={target_momentum!r}, target_views='
                             f'{tuple(target_views)!r})')

    def _build_target_backbones(self, momentum, target_views) -> None:
        """One moving-average copy of the shared backbone, or one per target view with
        separate backbones, in ``target_backbones`` under ``'backbone'`` or the view's
        name (see :meth:`_target_key`)."""
        name = type(self).__name__
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
                or not 0 < momentum < 1:
            raise ValueError(f'{name}: target_momentum must be None or a number in (0, 1), '
                             f'got {momentum!r}')
        if isinstance(target_views, str) or not isinstance(target_views, Sequence):
            raise TypeError(f'{name}: target_views must be a sequence of view names, got '
                            f'{target_views!r}')
        views = tuple(target_views)
        wrong = [v for v in views if v not in TARGET_VIEWS or v not in self.view_names]
        if not views or wrong or len(set(views)) != len(views):
            raise ValueError(f'{name}: target_views {views} must name each at most once, '
                             f'and only views among {TARGET_VIEWS} that are in '
                             f'view_names={self.view_names}')
        if 'target_codes' not in inspect.signature(self.align_head.loss).parameters:
            raise ValueError(f'{name}: target_momentum needs an align head whose loss takes '
                             f'target_codes (TeacherConceptAlignHead); '
                             f'{type(self.align_head).__name__} does not')
        self.target_views = views
        self.target_backbones = nn.ModuleDict({
            self._target_key(view): ExponentialMovingAverage(
                self._backbone_for(view), momentum=float(momentum))
            for view in views
        })

    def _target_key(self, view: str) -> str:
        return 'backbone' if self.shared_backbone else view

    @torch.no_grad()
    def target_codes(self, views: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Update the target network(s) and return their codes of ``target_views``:
        view -> (N, K_view), without gradient."""
        for key, target in self.target_backbones.items():  # one update per copy
            target.update_parameters(self.backbone if key == 'backbone'
                                     else self.view_backbones[key])
        pooled, _ = self._extract_with(
            {view: views[view] for view in self.target_views},
            lambda view: self.target_backbones[self._target_key(view)].module)
        return self.align_head.target_codes(pooled)

    def loss(self, inputs: Tensor, data_samples=None) -> Dict[str, Tensor]:
        """Eq. 11 with the target network's targets for ``target_views``."""
        if self.target_backbones is None:
            return super().loss(inputs, data_samples)
        views, _ = self.split_views(inputs, data_samples, need_all_views=True)
        # before the online pass, so sigma's BatchNorm statistics do not yet hold this batch
        target_codes = self.target_codes(views)
        pooled, feature_maps = self.extract_feat(views)
        return self.head_losses(pooled, feature_maps, data_samples,
                                target_codes=target_codes)


__all__ = ['TeacherConceptRecognizer']
