"""The SDC pre-training model: three views through one backbone, two concept heads."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from torch import Tensor

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from ..data_preprocessors import derive_clip_views
from ..losses import concept_predictions

#: The view names the heads know: the RGB clip (v), the static frame (s), the frame
#: difference (d).
KNOWN_VIEWS = ('clip', 'static', 'diff')
#: Suffix of each view in the output names (the paper's symbols: v, s, d).
VIEW_SYMBOLS = dict(clip='v', static='s', diff='d')


def global_average_pool(feature_map: Tensor) -> Tensor:
    """Eq. 2: average a feature map (N, C, T, H, W) over space and time -> (N, C)."""
    return feature_map.mean(dim=(2, 3, 4))


def _concept_counts(head: nn.Module) -> Tuple[Optional[int], Optional[int]]:
    """(Ks, Kd) as a head states them, or None where it does not."""
    num_static = getattr(head, 'num_static_concepts', None)
    num_dynamic = getattr(head, 'num_dynamic_concepts', None)
    return num_static, num_dynamic


def _same_shape_groups(views: Dict[str, Tensor]) -> List[Dict[str, Tensor]]:
    """Split views into groups of one shape (each can be stacked), in view order."""
    groups: Dict[tuple, Dict[str, Tensor]] = {}
    for name, view in views.items():
        groups.setdefault(tuple(view.shape), {})[name] = view
    return list(groups.values())


@MODELS.register_module()
class ConceptPretrainRecognizer(BaseModel):
    """Static and dynamic concept pre-training (SDC, Eq. 2 and 11).

    Splits the view axis of the batch into the clip ``v``, the static frame ``s`` and the
    frame difference ``d``, runs the backbone on each, pools the last feature maps (Eq. 2)
    and hands pooled features to the concept alignment head (Eq. 1-6) and feature maps,
    with the alignment head's prototypes, to the local concept contrast head (Eq. 7-10).
    The total loss (Eq. 11) is the sum of the heads' already weighted terms.

    Args:
        backbone (dict): backbone config. It must return the last feature map
            (N, C, T', H', W'), or a tuple/list whose last item is that map (e.g.
            MMAction2's ``ResNet2Plus1d`` or this package's ``S3D``).
        align_head (dict): ``ConceptAlignHead`` config (codes, L_aln, L_fid, L_div).
        local_head (dict, optional): ``LocalConceptContrastHead`` config (L_loc). None
            trains without the local branch (the paper's "w/o L_loc" ablation).
        contrast_head (dict, optional): ``ViewContrastHead`` config: InfoNCE between
            views, an addition of the authors' code that is not in Eq. 11. None (default)
            trains the paper's objective.
        data_preprocessor (dict, optional): ``ConceptDataPreprocessor`` config; it stacks
            the batch to (N, V, C, T, H, W) and normalises each view.
        view_names (Sequence[str]): what each index of the view axis holds, in order,
            when the data samples do not say (``PackConceptInputs`` stores the same names
            in each sample's metainfo ``view_names``; they must be among these). Must be
            distinct names from ``('clip', 'static', 'diff')`` and include ``'clip'``.
            Defaults to ``('clip', 'static', 'diff')``.
        shared_backbone (bool): one backbone for all views (the paper's default); False
            builds one backbone per view from the same config (Sec. 4.2 reports similar
            results). The clip's backbone is always ``self.backbone``, so downstream
            configs load it with the ``backbone.`` prefix either way. Defaults to True.
        stack_views (bool, optional): with a shared backbone, run it once over all views
            concatenated along the batch (True) or once per view (False). None means True
            with a shared backbone and False otherwise. Defaults to None.

            Stacked, BatchNorm computes its batch statistics over all views together, as
            its running statistics used at test time do; per view, training normalises
            each view apart while evaluation mixes them (docs/design.md).
        init_cfg (dict, optional): initialisation config of the whole model.

    Inputs: ``(N, V, C, T, H, W)`` with V views named as above; ``loss`` needs clip,
    static and diff. ``tensor`` and ``predict`` also accept a clip alone, ``(N, C, T, H, W)``
    or ``(N, 1, C, T, H, W)``, and clips packed by MMAction2's ``PackActionInputs`` (data
    samples without ``view_names``): ``(N, num_clips, C, T, H, W)``, whose features are
    averaged over the clips (the retrieval protocol's multi-clip average).

    Outputs:
        - ``loss``: dict of the heads' weighted losses ``loss_aln``, ``loss_fid``,
          ``loss_div`` and ``loss_loc``, and the heads' logged-only values (no ``loss``
          in the name, so not summed): ``aln_static``, ``aln_dynamic``,
          ``valid_static``, ``valid_dynamic``.
        - ``tensor``: dict of tensors for analyses, for each view present (symbol ``x`` in
          ``v``, ``s``, ``d``):
          ``x`` pooled feature (N, C); ``q_x`` concept codes (N, K_x);
          ``F_x`` local concept features (N, K_x, C'); ``attn_x`` concept attention maps
          (N, K_x, T', H', W'). For the clip also the static / dynamic halves
          ``q_v_s`` = q_v^s (N, Ks), ``q_v_d`` = q_v^d (N, Kd), ``F_v_s``, ``F_v_d``,
          and ``p_v_s`` (N, Ks), ``p_v_d`` (N, Kd), the concept distributions that Eq. 4
          predicts from each half (``softmax(q / tau)``, the align head's tau; not a
          symbol of the paper). With several clips, the average of the clips' values.
          ``F_*`` and ``attn_*`` are absent without a local head.
        - ``predict``: the data samples, each with the same names set as data fields
          (the sample's row of each tensor, detached).
    """

    def __init__(self,
                 backbone: dict,
                 align_head: dict,
                 local_head: Optional[dict] = None,
                 contrast_head: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 view_names: Sequence[str] = KNOWN_VIEWS,
                 shared_backbone: bool = True,
                 stack_views: Optional[bool] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ConceptDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            # Build through MMAction2's registry, so no default scope is needed.
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)

        self.view_names = self._check_view_names(view_names)
        if stack_views is None:
            stack_views = bool(shared_backbone)
        if stack_views and not shared_backbone:
            raise ValueError('ConceptPretrainRecognizer: stack_views=True needs '
                             'shared_backbone=True (separate backbones run one view each)')
        self.shared_backbone = bool(shared_backbone)
        self.stack_views = bool(stack_views)

        self.backbone = MODELS.build(backbone)
        self.view_backbones = None
        if not self.shared_backbone:
            self.view_backbones = nn.ModuleDict({
                name: MODELS.build(backbone)
                for name in self.view_names if name != 'clip'
            })
        self.align_head = MODELS.build(align_head)
        self.local_head = MODELS.build(local_head) if local_head is not None else None
        self.contrast_head = (MODELS.build(contrast_head)
                              if contrast_head is not None else None)
        self._check_heads()

    # ------------------------------------------------------------------ build checks
    @staticmethod
    def _check_view_names(view_names: Sequence[str]) -> Tuple[str, ...]:
        if isinstance(view_names, str) or not isinstance(view_names, Sequence):
            raise TypeError('ConceptPretrainRecognizer: view_names must be a sequence of '
                            f'names, got {view_names!r}')
        names = tuple(view_names)
        unknown = [n for n in names if n not in KNOWN_VIEWS]
        if unknown:
            raise ValueError(f'ConceptPretrainRecognizer: view_names {names} contains '
                             f'{unknown}; the known views are {KNOWN_VIEWS}')
        if len(set(names)) != len(names):
            raise ValueError(f'ConceptPretrainRecognizer: view_names {names} repeats a name')
        if 'clip' not in names:
            raise ValueError(f"ConceptPretrainRecognizer: view_names {names} lacks 'clip'")
        return names

    def _check_heads(self) -> None:
        """Check that backbone and heads agree on channels and concept counts."""
        channels = {}
        feat_dim = getattr(self.backbone, 'feat_dim', None)
        if isinstance(feat_dim, int):
            channels[f'backbone ({type(self.backbone).__name__}) feat_dim'] = feat_dim
        for name in ('align_head', 'local_head'):
            head = getattr(self, name)
            in_channels = getattr(head, 'in_channels', None) if head is not None else None
            if isinstance(in_channels, int):
                channels[f'{name}.in_channels'] = in_channels
        if len(set(channels.values())) > 1:
            raise ValueError('ConceptPretrainRecognizer: channel counts disagree: ' +
                             ', '.join(f'{k}={v}' for k, v in channels.items()))

        num_static, num_dynamic = _concept_counts(self.align_head)
        if num_static is None or num_dynamic is None:
            raise AttributeError(
                f'ConceptPretrainRecognizer: align_head ({type(self.align_head).__name__}) '
                'must expose num_static_concepts and num_dynamic_concepts')
        self.num_static_concepts = int(num_static)
        self.num_dynamic_concepts = int(num_dynamic)
        if self.local_head is None:
            return
        local_static, local_dynamic = _concept_counts(self.local_head)
        for option, local, aligned in (('num_static_concepts', local_static, num_static),
                                       ('num_dynamic_concepts', local_dynamic, num_dynamic)):
            if local is not None and local != aligned:
                raise ValueError(f'ConceptPretrainRecognizer: local_head.{option}={local} '
                                 f'but align_head.{option}={aligned}')
        align_width = getattr(self.align_head, 'prototype_channels', None)
        local_width = getattr(self.local_head, 'prototype_channels', None)
        if align_width is not None and local_width is not None and align_width != local_width:
            raise ValueError(f'ConceptPretrainRecognizer: local_head.prototype_channels='
                             f'{local_width} but the prototypes of align_head have '
                             f'{align_width} channels (its projection.out_channels or '
                             'in_channels)')
        top_k = getattr(self.local_head, 'top_k', None)
        if top_k is not None and top_k > min(num_static, num_dynamic):
            raise ValueError(f'ConceptPretrainRecognizer: local_head.top_k={top_k} exceeds '
                             f'the concept counts of align_head (num_static_concepts='
                             f'{num_static}, num_dynamic_concepts={num_dynamic})')

    # ------------------------------------------------------------------ views
    def _sample_view_names(self, data_samples) -> Optional[Tuple[str, ...]]:
        """The ``view_names`` metainfo of the data samples, checked, or None."""
        if not data_samples:
            return None
        names = [ds.metainfo.get('view_names', None) for ds in data_samples]
        if all(n is None for n in names):
            return None
        first = names[0]
        if any(n is None or tuple(n) != tuple(first) for n in names):
            raise ValueError('ConceptPretrainRecognizer: the data samples of one batch '
                             f'carry different view_names metainfo: {names}')
        first = tuple(first)
        unknown = [n for n in first if n not in self.view_names]
        if unknown:
            raise ValueError(f'ConceptPretrainRecognizer: the data samples carry view_names '
                             f'{first}, but the model is configured with view_names='
                             f'{self.view_names}; {unknown} is not among them')
        return first

    def split_views(self, inputs: Tensor, data_samples=None,
                    need_all_views: bool = False) -> Tuple[Dict[str, Tensor], int]:
        """Name the views of a batch.

        Returns ``(views, num_clips)``: ``views`` maps view name -> (M, C, T, H, W) and
        ``num_clips`` is how many clips of one video are folded into M = N * num_clips
        (1 unless clips packed by ``PackActionInputs`` are given).
        """
        if not isinstance(inputs, Tensor):
            raise TypeError('ConceptPretrainRecognizer expects a tensor batch, got '
                            f'{type(inputs).__name__}')
        if inputs.dim() == 5:
            views, num_clips = dict(clip=inputs), 1
        elif inputs.dim() == 6:
            num_axis = inputs.shape[1]
            names = self._sample_view_names(data_samples)
            if names is None and data_samples and not need_all_views:
                # MMAction2-packed clips (no view names): (N, num_clips, C, T, H, W)
                views = dict(clip=inputs.flatten(0, 1))
                return views, num_axis
            if names is None:
                if num_axis == 1:
                    names = ('clip', )
                elif num_axis == len(self.view_names):
                    names = self.view_names
                else:
                    raise ValueError(
                        f'ConceptPretrainRecognizer: the input {tuple(inputs.shape)} has '
                        f'{num_axis} views on axis 1 but view_names={self.view_names} '
                        'and the data samples name none')
            if len(names) != num_axis:
                raise ValueError(f'ConceptPretrainRecognizer: the input '
                                 f'{tuple(inputs.shape)} has {num_axis} views on axis 1 '
                                 f'but the data samples name {len(names)}: {names}')
            views, num_clips = {n: inputs[:, i] for i, n in enumerate(names)}, 1
        else:
            raise ValueError('ConceptPretrainRecognizer expects inputs (N, V, C, T, H, W) or '
                             f'a clip (N, C, T, H, W), got shape {tuple(inputs.shape)}')
        if 'clip' not in views:
            raise ValueError(f'ConceptPretrainRecognizer: no clip view among {tuple(views)}')
        if need_all_views:
            missing = [n for n in KNOWN_VIEWS if n not in views]
            if missing:
                raise ValueError(f'ConceptPretrainRecognizer: training needs the views '
                                 f'{KNOWN_VIEWS}; the batch lacks {missing} (it has '
                                 f'{tuple(views)})')
        return views, num_clips

    # ------------------------------------------------------------------ features
    def _run_backbone(self, backbone: nn.Module, x: Tensor) -> Tensor:
        out = backbone(x)
        if isinstance(out, (tuple, list)):
            if not out:
                raise ValueError(f'backbone {type(backbone).__name__} returned an empty '
                                 f'{type(out).__name__}')
            out = out[-1]
        if not isinstance(out, Tensor) or out.dim() != 5:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f'backbone {type(backbone).__name__} returned {shape}; '
                             'ConceptPretrainRecognizer needs its last feature map as '
                             "(N, C, T', H', W')")
        return out

    def _backbone_for(self, view: str) -> nn.Module:
        if self.view_backbones is None or view == 'clip':
            return self.backbone
        return self.view_backbones[view]

    def extract_feat(self, views: Dict[str, Tensor]
                     ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Backbone and Eq. 2 for every view.

        Returns ``(pooled, feature_maps)``: view -> (N, C) and view -> (N, C, T', H', W').
        """
        return self._extract_with(views, self._backbone_for)

    def _extract_with(self, views: Dict[str, Tensor], backbone_for
                      ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """:meth:`extract_feat` with the network of each view given by ``backbone_for``
        (view name -> module), for subclasses that run other copies of the backbone."""
        names = list(views)
        if self.stack_views and len(names) > 1:
            # stack_views implies one shared backbone, so any view's network serves all
            sizes = [views[n].shape[0] for n in names]
            stacked = self._run_backbone(backbone_for(names[0]),
                                         torch.cat([views[n] for n in names]))
            feature_maps = dict(zip(names, stacked.split(sizes, dim=0)))
        else:
            feature_maps = {n: self._run_backbone(backbone_for(n), views[n]) for n in names}
        pooled = {n: global_average_pool(fm) for n, fm in feature_maps.items()}
        return pooled, feature_maps

    # ------------------------------------------------------------------ modes
    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[ActionDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.features(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}"; ConceptPretrainRecognizer supports '
                           "'loss', 'predict' and 'tensor'")

    def loss(self, inputs: Tensor, data_samples=None) -> Dict[str, Tensor]:
        """Eq. 11: the heads' weighted losses for a batch of (clip, static, diff)."""
        views, _ = self.split_views(inputs, data_samples, need_all_views=True)
        pooled, feature_maps = self.extract_feat(views)
        return self.head_losses(pooled, feature_maps, data_samples)

    def head_losses(self, pooled: Dict[str, Tensor], feature_maps: Dict[str, Tensor],
                    data_samples=None, **align_kwargs) -> Dict[str, Tensor]:
        """The heads' weighted losses from the views' pooled features and feature maps;
        ``align_kwargs`` go to the align head's ``loss`` (for heads that take more)."""
        codes = self.align_head(pooled)
        losses = dict(self.align_head.loss(pooled, codes, data_samples=data_samples,
                                           **align_kwargs))
        if self.local_head is not None:
            local = self.local_head(feature_maps, self.align_head.prototypes)
            local_losses = self.local_head.loss(local, codes)
            overlap = set(losses) & set(local_losses)
            if overlap:
                raise KeyError(f'ConceptPretrainRecognizer: both heads return {overlap}')
            losses.update(local_losses)
        if self.contrast_head is not None:
            contrast_losses = self.contrast_head.loss(pooled)
            overlap = set(losses) & set(contrast_losses)
            if overlap:
                raise KeyError(f'ConceptPretrainRecognizer: both heads return {overlap}')
            losses.update(contrast_losses)
        return losses

    def features(self, inputs: Tensor, data_samples=None,
                 derive_views: bool = False) -> Dict[str, Tensor]:
        """The features the analyses use (see the class docstring for the names).

        ``derive_views=True`` adds, to a clip-only batch, the static frame and the frame
        difference that the data preprocessor derives from the clip
        (``ConceptDataPreprocessor.views_from_clip``), so that ``s``, ``d`` and their
        codes and local features come out too.
        """
        views, num_clips = self.split_views(inputs, data_samples)
        if derive_views and list(views) == ['clip']:
            views.update(derive_clip_views(self.data_preprocessor, views['clip']))
        pooled, feature_maps = {}, {}
        for group in _same_shape_groups(views):  # derived d has one frame fewer than v
            group_pooled, group_maps = self.extract_feat(group)
            pooled.update(group_pooled)
            feature_maps.update(group_maps)
        codes = self.align_head(pooled)
        out: Dict[str, Tensor] = {}
        for view in views:
            symbol = VIEW_SYMBOLS[view]
            out[symbol] = pooled[view]
            out[f'q_{symbol}'] = codes[view]
        if self.local_head is not None:
            local = self.local_head(feature_maps, self.align_head.prototypes)
            for view in views:
                symbol = VIEW_SYMBOLS[view]
                out[f'F_{symbol}'] = local['features'][view]
                n, _, t, h, w = feature_maps[view].shape
                attention = local['attention'][view]
                out[f'attn_{symbol}'] = attention.reshape(n, attention.shape[1], t, h, w)
        num_static = self.num_static_concepts
        out['q_v_s'] = out['q_v'][:, :num_static]
        out['q_v_d'] = out['q_v'][:, num_static:]
        # per clip, before the clips are averaged, as Eq. 4 sees them
        tau = self.align_head.temperature
        out['p_v_s'] = concept_predictions(out['q_v_s'], tau)
        out['p_v_d'] = concept_predictions(out['q_v_d'], tau)
        if 'F_v' in out:
            out['F_v_s'] = out['F_v'][:, :num_static]
            out['F_v_d'] = out['F_v'][:, num_static:]
        if num_clips > 1:
            out = {k: v.reshape(-1, num_clips, *v.shape[1:]).mean(dim=1)
                   for k, v in out.items()}
        return out

    def predict(self, inputs: Tensor, data_samples=None) -> List[ActionDataSample]:
        """:meth:`features`, stored per sample as data fields of the data samples."""
        out = self.features(inputs, data_samples)
        batch_size = out['v'].shape[0]
        if data_samples is None:
            data_samples = [ActionDataSample() for _ in range(batch_size)]
        if len(data_samples) != batch_size:
            raise ValueError(f'ConceptPretrainRecognizer: {len(data_samples)} data samples '
                             f'for a batch of {batch_size}')
        for index, sample in enumerate(data_samples):
            for name, value in out.items():
                sample.set_field(value[index].detach(), name)
        return data_samples


__all__ = ['ConceptPretrainRecognizer', 'global_average_pool']
