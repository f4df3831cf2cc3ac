"""Local branch of SDC: concept cross-attention and local concept contrast (Eq. 7-10)."""
from typing import Dict, Optional

import torch.nn as nn
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from ..losses import concept_cross_attention, local_concept_loss, valid_concept_mask
from .concept_align_head import VIEW_NAMES, _check_non_negative, _check_positive_int


@MODELS.register_module()
class LocalConceptContrastHead(BaseModule):
    """Concept-wise local features by cross-attention, contrasted across views (Eq. 7-10).

    Each view's prototypes, linearly projected, query its backbone feature map (keys and
    values are linear projections of all ``T' * H' * W'`` locations) with a residual
    (Eq. 7). The clip's features ``F_v`` split into ``F_v^s`` (first Ks concepts) and
    ``F_v^d`` (last Kd). Concepts in the top-K of both views' codes (Eq. 8) are contrasted
    with the margin loss of Eq. 9, in both directions, for static and dynamic concepts
    (Eq. 10).

    Projections are shared across views by default: the backbone is shared, so the three
    feature maps live in one space, and each view's own prototypes already make its
    queries different. ``share_projections=False`` gives each view its own three
    projections.

    Args:
        in_channels (int): C, channels of the backbone's last feature map.
        num_static_concepts (int): Ks. Default 50.
        num_dynamic_concepts (int): Kd. Default 50.
        prototype_channels (int, optional): Cp, the prototypes' width; default C (the
            width when the align head's sigma is the identity).
        embed_channels (int, optional): C', width of queries, keys, values and output
            features; default C.
        top_k (int): K of Eq. 8, at most min(Ks, Kd). Default 5.
        margin (float): lambda of Eq. 9. Default 1.4 (for L2-normalised features). 0
            turns the hinge over negatives off and leaves the pull between the two views
            of a video (an ablation: that pull alone is met by features that are all
            alike).
        normalize_features (bool): L2-normalise local features before the distances of
            Eq. 9. Default True.
        share_projections (bool): one set of projections for all views. Default True.
        detach_prototypes (bool): build the queries from detached prototypes, so that
            ``L_loc`` trains the projections and the backbone but not the prototypes, which
            the concept codes use too. The paper does not say; the default, False, lets
            the gradient through, as Eq. 7 is written.
        loss_weight (float): alpha of Eq. 11; the warm-up hook sets the attribute
            ``loss_weight`` (0 during warm-up). The loss is always computed and multiplied
            by it, so with 0 every parameter still gets a (zero) gradient under DDP.
            Default 1.0.
        init_cfg (dict, optional): mmengine initialisation config.

    Shapes:
        ``forward(feature_maps, prototypes)``: ``feature_maps[view]`` is
        ``(N, C, T', H', W')`` and ``prototypes[view]`` ``(K_view, Cp)`` for each given view
        (any subset of clip/static/diff), with ``K_clip = Ks + Kd``, ``K_static = Ks``,
        ``K_diff = Kd``. Returns ``dict(features=dict(view -> (N, K_view, C')),
        attention=dict(view -> (N, K_view, T' * H' * W')))``.

        ``loss(local, codes)``: ``local`` is the output of ``forward`` for all three views,
        ``codes`` that of ``ConceptAlignHead.forward``. Returns ``dict(loss_loc=scalar)``,
        already multiplied by ``loss_weight``, and, for the logs, ``valid_static`` and
        ``valid_dynamic``: the mean number of valid concepts per sample (Eq. 8; 0 to
        ``top_k``), without gradient.
    """

    def __init__(self,
                 in_channels: int,
                 num_static_concepts: int = 50,
                 num_dynamic_concepts: int = 50,
                 prototype_channels: Optional[int] = None,
                 embed_channels: Optional[int] = None,
                 top_k: int = 5,
                 margin: float = 1.4,
                 normalize_features: bool = True,
                 share_projections: bool = True,
                 detach_prototypes: bool = False,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = _check_positive_int('in_channels', in_channels)
        self.num_static_concepts = _check_positive_int('num_static_concepts (Ks)',
                                                       num_static_concepts)
        self.num_dynamic_concepts = _check_positive_int('num_dynamic_concepts (Kd)',
                                                        num_dynamic_concepts)
        self.prototype_channels = _check_positive_int(
            'prototype_channels',
            self.in_channels if prototype_channels is None else prototype_channels)
        self.embed_channels = _check_positive_int(
            'embed_channels', self.in_channels if embed_channels is None else embed_channels)
        top_k = _check_positive_int('top_k', top_k)
        smallest = min(self.num_static_concepts, self.num_dynamic_concepts)
        if top_k > smallest:
            raise ValueError(f'top_k={top_k} exceeds the number of static or dynamic concepts '
                             f'(Ks={self.num_static_concepts}, Kd={self.num_dynamic_concepts})')
        self.top_k = top_k
        self.margin = _check_non_negative('margin', margin)
        self.normalize_features = bool(normalize_features)
        self.share_projections = bool(share_projections)
        if not isinstance(detach_prototypes, bool):
            raise ValueError(f'detach_prototypes must be True or False, got '
                             f'{detach_prototypes!r}')
        self.detach_prototypes = detach_prototypes
        if not (isinstance(loss_weight, (int, float)) and loss_weight >= 0):
            raise ValueError(f'loss_weight must be a non-negative number, got {loss_weight!r}')
        self.loss_weight = float(loss_weight)

        def projections() -> nn.ModuleDict:
            return nn.ModuleDict(
                dict(query=nn.Linear(self.prototype_channels, self.embed_channels),
                     key=nn.Linear(self.in_channels, self.embed_channels),
                     value=nn.Linear(self.in_channels, self.embed_channels)))

        if self.share_projections:
            self.projections = projections()
        else:
            self.projections = nn.ModuleDict({view: projections() for view in VIEW_NAMES})

    @property
    def num_concepts(self) -> Dict[str, int]:
        """Number of concepts per view: ``dict(clip=Ks + Kd, static=Ks, diff=Kd)``."""
        ks, kd = self.num_static_concepts, self.num_dynamic_concepts
        return dict(clip=ks + kd, static=ks, diff=kd)

    def _projections(self, view: str) -> nn.ModuleDict:
        return self.projections if self.share_projections else self.projections[view]

    def forward(self, feature_maps: Dict[str, Tensor],
                prototypes: Dict[str, Tensor]) -> Dict[str, Dict[str, Tensor]]:
        """Concept-wise local features and attention maps (Eq. 7) of each given view."""
        if not isinstance(feature_maps, dict) or not feature_maps:
            raise TypeError('LocalConceptContrastHead expects feature_maps as a non-empty dict '
                            f'of views, got {feature_maps!r:.100}')
        features, attention = {}, {}
        for view, feature_map in feature_maps.items():
            if view not in VIEW_NAMES:
                raise KeyError(f'LocalConceptContrastHead: unknown view {view!r} in '
                               f'feature_maps; expected keys among {VIEW_NAMES}')
            if feature_map.dim() != 5 or feature_map.shape[1] != self.in_channels:
                raise ValueError(
                    f"LocalConceptContrastHead: feature_maps['{view}'] must be (N, "
                    f"{self.in_channels}, T', H', W') (5-D, in_channels={self.in_channels}), "
                    f'got {tuple(feature_map.shape)}')
            if view not in prototypes:
                raise KeyError(f"LocalConceptContrastHead: prototypes['{view}'] is missing")
            expected = (self.num_concepts[view], self.prototype_channels)
            if tuple(prototypes[view].shape) != expected:
                raise ValueError(f"LocalConceptContrastHead: prototypes['{view}'] must be "
                                 f'{expected} (num concepts, prototype_channels), got '
                                 f'{tuple(prototypes[view].shape)}')
            proj = self._projections(view)
            queries_from = prototypes[view].detach() if self.detach_prototypes \
                else prototypes[view]
            features[view], attention[view] = concept_cross_attention(
                queries_from, feature_map, proj['query'], proj['key'], proj['value'])
        return dict(features=features, attention=attention)

    def loss(self, local: Dict[str, Dict[str, Tensor]],
             codes: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Weighted ``loss_loc`` (Eq. 10) from the local features and the concept codes."""
        features = local['features']
        for name, source in (('local features', features), ('codes', codes)):
            missing = set(VIEW_NAMES) - set(source)
            if missing:
                raise KeyError(f'LocalConceptContrastHead.loss: {name} lack views '
                               f'{sorted(missing)}')
        for view in VIEW_NAMES:
            k = self.num_concepts[view]
            if features[view].dim() != 3 or features[view].shape[1] != k:
                raise ValueError(f"LocalConceptContrastHead.loss: features['{view}'] must be "
                                 f'(N, {k}, C\'), got {tuple(features[view].shape)}')
            if tuple(codes[view].shape) != (features[view].shape[0], k):
                raise ValueError(f"LocalConceptContrastHead.loss: codes['{view}'] must be "
                                 f'({features[view].shape[0]}, {k}), got '
                                 f'{tuple(codes[view].shape)}')
        ks = self.num_static_concepts
        static_valid = valid_concept_mask(codes['static'], codes['clip'][:, :ks], self.top_k)
        dynamic_valid = valid_concept_mask(codes['diff'], codes['clip'][:, ks:], self.top_k)
        loss = local_concept_loss(
            features['static'], features['clip'][:, :ks], static_valid,
            features['diff'], features['clip'][:, ks:], dynamic_valid,
            margin=self.margin, normalize=self.normalize_features)
        return dict(loss_loc=self.loss_weight * loss,
                    # logged only: how many concepts per sample Eq. 8 keeps. At 0, L_loc
                    # is off for that half whatever its weight (the two views' top-K
                    # codes do not meet), which the loss value alone does not tell apart
                    # from a contrast already solved.
                    valid_static=static_valid.sum(dim=1).float().mean(),
                    valid_dynamic=dynamic_valid.sum(dim=1).float().mean())
