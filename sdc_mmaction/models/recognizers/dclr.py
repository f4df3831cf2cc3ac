"""DCLR (Ding, Qian, Xiong, ACM MM 2022): dual contrastive learning between a clip and its
static frame and frame difference, with a momentum key encoder and queues."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModel, ExponentialMovingAverage
from torch import Tensor

from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from ..data_preprocessors import derive_clip_views
from ..losses import (activation_alignment_loss, activation_map, activation_weighted_pool,
                      all_gather_with_grad, get_dist_info, multi_positive_info_nce,
                      normalised_activation, queue_affinity, top_k_queue_positives)

#: the two clips of a training sample, each with its static frame and frame difference
DCLR_VIEWS = ('clip', 'static', 'diff', 'clip2', 'static2', 'diff2')
#: the five projection heads: g_vv(h_v), g_vs(h_vs), g_vd(h_vd), g_sv(h_s), g_dv(h_d)
HEAD_NAMES = ('vv', 'vs', 'vd', 'sv', 'dv')
#: each loss: (query head, key head, queue, positives from the static / dynamic / both)
LOSS_PAIRS = dict(vv=('vv', 'vv', 'vv', 'both'), vs=('vs', 'sv', 'sv', 'static'),
                  sv=('sv', 'vs', 'vs', 'static'), vd=('vd', 'dv', 'dv', 'dynamic'),
                  dv=('dv', 'vd', 'vd', 'dynamic'))


def _last_feature_map(out, backbone: nn.Module) -> Tensor:
    if isinstance(out, (tuple, list)):
        out = out[-1] if out else None
    if not isinstance(out, Tensor) or out.dim() != 5:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f'backbone {type(backbone).__name__} returned {shape}; DCLR needs '
                         "its last feature map as (N, C, T', H', W')")
    return out


@MODELS.register_module()
class DCLR(BaseModel):
    """Dual contrastive pre-training (DCLR) with a momentum key encoder and queues.

    Each training sample holds two clips of one video, q and k, and for each the static
    frame s and the frame difference d (six views, ``DCLR_VIEWS``). The query encoder
    (``backbone`` + five ``heads``) embeds q's views; the key encoder, a moving average of
    backbone and heads, embeds k's views and gives the activation maps that weight the
    pooling. From the last feature maps F_v, F_s, F_d:

    - A_x = sum of F_x over channels, Â_x = A_x / mean(A_x) (one map per view);
    - h_v, h_s, h_d = GAP(F_x); h_vs = GAP(F_v ⊙ Â_s), h_vd = GAP(F_v ⊙ Â_d), with Â
      from the key encoder on the same clip (no gradient);
    - z_vv = g_vv(h_v), z_vs = g_vs(h_vs), z_vd = g_vd(h_vd), z_sv = g_sv(h_s),
      z_dv = g_dv(h_d), unit vectors.

    Losses (``multi_positive_info_nce``, temperature ``temperature``): L_vv (z_vv of q vs
    z_vv of k), L_vs / L_sv (z_vs vs z_sv, both ways), L_vd / L_dv (z_vd vs z_dv, both
    ways), each against the queue of its key's head. Besides the key, the ``top_k`` queue
    rows most like the sample count as positives: ranked by softmax(r_s · queue_sv) for
    L_vs and L_sv, by the dynamic counterpart for L_vd and L_dv, and by their sum for
    L_vv, where r_s, r_d are the key encoder's z_sv, z_dv of q. Only rows already holding
    keys are chosen. The activation alignment ``mean((A_v - (A_s + A_d))^2)`` of the query
    encoder on q is weighted by ``activation_weight``.

    The authors' code keeps seven queues; two of them (``rs``, ``rd``) receive the same
    keys as ``sv`` and ``dv`` (the key encoder's z_sv, z_dv of k), so five are kept here
    and the positives are ranked against ``sv`` and ``dv``.

    Args:
        backbone (dict): backbone config; it returns its last feature map (N, C, T', H',
            W') or a tuple whose last item is that map. It is ``self.backbone``, the query
            encoder's, which ``tools/convert_pretrained.py`` exports.
        head (dict): config of one projection head (``DCLRProjectionHead``); five are
            built from it.
        queue_length (int): K, rows per queue. It must be a multiple of the global batch
            (per-GPU batch x processes), checked at the first training step.
        momentum (float): the query encoder's weight in each update of the key encoder,
            in OpenMMLab's convention (mmengine's ``ExponentialMovingAverage``, mmpretrain's
            MoCo): 0.001 is MoCo's m = 0.999. In (0, 1).
        temperature (float): tau of the contrastive losses. Defaults to 0.07.
        top_k (int): cross-video positives per query. Defaults to 5.
        activation_weight (float): weight of the activation alignment. Defaults to 0.1.
        detach_activation_parts (bool): stop the gradient through A_s + A_d in the
            alignment. Defaults to False.
        normalise_activation_alignment (bool): align A_v / mean(A_v) with
            (A_s + A_d) / mean(A_s + A_d) instead of the raw maps (see
            ``activation_alignment_loss``). Defaults to False (the raw maps).
        data_preprocessor (dict, optional): ``ConceptDataPreprocessor`` config.
        init_cfg (dict, optional): initialisation config.

    Inputs: ``loss`` takes (N, 6, C, T, H, W), the views named by the samples'
    ``view_names`` metainfo (``PackConceptInputs``) or, without it, ``DCLR_VIEWS``.
    ``tensor`` and ``predict`` take a clip (N, C, T, H, W) or clips packed by
    ``PackActionInputs`` (N, M, C, T, H, W), whose features are averaged.

    Outputs:
        - ``loss``: ``loss_vv``, ``loss_vs``, ``loss_sv``, ``loss_vd``, ``loss_dv`` and
          the weighted ``loss_act``; logged only: ``num_positives`` (mean cross-video
          positives per query of L_vv) and ``queue_filled`` (rows holding keys).
        - ``tensor``: ``dict(v=...)``, the query backbone's pooled clip feature (N, C).
        - ``predict``: data samples with ``v`` set.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 queue_length: int = 16384,
                 momentum: float = 0.001,
                 temperature: float = 0.07,
                 top_k: int = 5,
                 activation_weight: float = 0.1,
                 detach_activation_parts: bool = False,
                 normalise_activation_alignment: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ConceptDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
                or not 0 < momentum < 1:
            raise ValueError(f'DCLR: momentum must be in (0, 1) (the query weight per '
                             f'update; 0.001 is MoCo\'s m = 0.999), got {momentum!r}')
        if not isinstance(queue_length, int) or queue_length < 1:
            raise ValueError(f'DCLR: queue_length must be a positive int, got '
                             f'{queue_length!r}')
        if not isinstance(top_k, int) or not 0 <= top_k <= queue_length:
            raise ValueError(f'DCLR: top_k must be an int in [0, queue_length='
                             f'{queue_length}], got {top_k!r}')
        if not temperature > 0:
            raise ValueError(f'DCLR: temperature must be positive, got {temperature!r}')
        self.queue_length = queue_length
        self.temperature = float(temperature)
        self.top_k = top_k
        self.activation_weight = float(activation_weight)
        self.detach_activation_parts = bool(detach_activation_parts)
        self.normalise_activation_alignment = bool(normalise_activation_alignment)

        self.backbone = MODELS.build(backbone)
        self.heads = nn.ModuleDict({name: MODELS.build(head) for name in HEAD_NAMES})
        embed_dim = getattr(self.heads['vv'], 'out_channels', None)
        if not isinstance(embed_dim, int):
            raise AttributeError(f'DCLR: the head ({type(self.heads["vv"]).__name__}) must '
                                 'state its embedding size as out_channels')
        self.key_encoder = ExponentialMovingAverage(self._query_encoder(),
                                                    momentum=float(momentum))
        for name in HEAD_NAMES:
            self.register_buffer(f'queue_{name}',
                                 nn.functional.normalize(torch.randn(queue_length, embed_dim),
                                                         dim=1))
        self.register_buffer('queue_ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('queue_filled', torch.zeros((), dtype=torch.long))

    def _query_encoder(self) -> nn.ModuleDict:
        """Backbone and heads as one module, the layout of ``key_encoder.module``."""
        return nn.ModuleDict(dict(backbone=self.backbone, heads=self.heads))

    def queue(self, name: str) -> Tensor:
        return getattr(self, f'queue_{name}')

    # ------------------------------------------------------------------ views
    def _split_views(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        names = None
        if data_samples:
            found = {tuple(ds.metainfo.get('view_names', ())) for ds in data_samples}
            if len(found) != 1:
                raise ValueError(f'DCLR: the samples of one batch name different views: '
                                 f'{sorted(found)}')
            names = found.pop() or None
        names = names or DCLR_VIEWS
        if inputs.dim() != 6 or inputs.shape[1] != len(names):
            raise ValueError(f'DCLR: training needs inputs (N, {len(names)}, C, T, H, W) '
                             f'for the views {names}, got {tuple(inputs.shape)}')
        missing = [v for v in DCLR_VIEWS if v not in names]
        if missing:
            raise ValueError(f'DCLR: training needs the views {DCLR_VIEWS}; the batch lacks '
                             f'{missing} (PackConceptInputs(view_names=...))')
        return {name: inputs[:, i] for i, name in enumerate(names)}

    def _feature_maps(self, backbone: nn.Module, views: Sequence[Tensor]) -> List[Tensor]:
        """One pass over the views stacked along the batch; the map of each view."""
        stacked = _last_feature_map(backbone(torch.cat(list(views))), backbone)
        return list(stacked.split([v.shape[0] for v in views]))

    @staticmethod
    def _pooled(maps: Sequence[Tensor], weights: Tuple[Tensor, Tensor]) -> Dict[str, Tensor]:
        """h_v, h_vs, h_vd, h_s, h_d keyed by the head that takes each."""
        f_v, f_s, f_d = maps
        weight_s, weight_d = weights
        return dict(vv=f_v.mean(dim=(2, 3, 4)),
                    vs=activation_weighted_pool(f_v, weight_s),
                    vd=activation_weighted_pool(f_v, weight_d),
                    sv=f_s.mean(dim=(2, 3, 4)),
                    dv=f_d.mean(dim=(2, 3, 4)))

    # ------------------------------------------------------------------ key encoder
    @torch.no_grad()
    def _key_pass(self, q_views, k_views):
        """Update the key encoder, then return Â_s, Â_d of q, the keys of k and r_s, r_d."""
        self.key_encoder.update_parameters(self._query_encoder())
        key = self.key_encoder.module
        maps_q = self._feature_maps(key['backbone'], q_views)
        weights_q = tuple(normalised_activation(activation_map(m)) for m in maps_q[1:])
        ranking = dict(static=key['heads']['sv'](maps_q[1].mean(dim=(2, 3, 4))),
                       dynamic=key['heads']['dv'](maps_q[2].mean(dim=(2, 3, 4))))
        maps_k = self._feature_maps(key['backbone'], k_views)
        weights_k = tuple(normalised_activation(activation_map(m)) for m in maps_k[1:])
        pooled_k = self._pooled(maps_k, weights_k)
        keys = {name: key['heads'][name](pooled_k[name]) for name in HEAD_NAMES}
        return weights_q, keys, ranking

    # ------------------------------------------------------------------ queues
    def _check_global_batch(self, global_batch: int) -> None:
        if self.queue_length % global_batch:
            _, world_size = get_dist_info()
            raise ValueError(
                f'DCLR: model.queue_length={self.queue_length} is not a multiple of the '
                f'global batch {global_batch} (train_dataloader.batch_size='
                f'{global_batch // world_size} x {world_size} processes); change one of '
                'them, e.g. a batch that is a power of two')

    @torch.no_grad()
    def _enqueue(self, keys: Dict[str, Tensor]) -> None:
        """Write the global batch's keys (every rank's, in rank order) at the pointer."""
        gathered = {name: all_gather_with_grad(k.detach())[0] for name, k in keys.items()}
        batch = next(iter(gathered.values())).shape[0]
        self._check_global_batch(batch)
        ptr = int(self.queue_ptr)
        for name, k in gathered.items():
            self.queue(name)[ptr:ptr + batch] = k.to(self.queue(name).dtype)
        self.queue_ptr.fill_((ptr + batch) % self.queue_length)
        self.queue_filled.fill_(min(int(self.queue_filled) + batch, self.queue_length))

    # ------------------------------------------------------------------ modes
    def forward(self, inputs: Tensor, data_samples: Optional[List[ActionDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.features(inputs)
        raise RuntimeError(f'Invalid mode "{mode}"; DCLR supports loss, predict and tensor')

    def loss(self, inputs: Tensor, data_samples=None) -> Dict[str, Tensor]:
        views = self._split_views(inputs, data_samples)
        _, world_size = get_dist_info()
        self._check_global_batch(inputs.shape[0] * world_size)
        q_views = [views['clip'], views['static'], views['diff']]
        k_views = [views['clip2'], views['static2'], views['diff2']]
        weights_q, keys, ranking = self._key_pass(q_views, k_views)

        maps = self._feature_maps(self.backbone, q_views)
        pooled = self._pooled(maps, weights_q)
        queries = {name: self.heads[name](pooled[name]) for name in HEAD_NAMES}

        valid = torch.arange(self.queue_length, device=inputs.device) < self.queue_filled
        affinity = dict(static=queue_affinity(ranking['static'], self.queue('sv')),
                        dynamic=queue_affinity(ranking['dynamic'], self.queue('dv')))
        affinity['both'] = affinity['static'] + affinity['dynamic']
        positives = {kind: top_k_queue_positives(a, min(self.top_k, self.queue_length),
                                                 valid)
                     for kind, a in affinity.items()}
        losses = {}
        for loss_name, (query_head, key_head, queue_name, kind) in LOSS_PAIRS.items():
            losses[f'loss_{loss_name}'] = multi_positive_info_nce(
                queries[query_head], keys[key_head], self.queue(queue_name).clone(),
                positives[kind], self.temperature)
        activations = [activation_map(m) for m in maps]
        losses['loss_act'] = self.activation_weight * activation_alignment_loss(
            *activations, detach_parts=self.detach_activation_parts,
            normalise=self.normalise_activation_alignment)
        losses['num_positives'] = positives['both'].sum(dim=1).float().mean()
        losses['queue_filled'] = self.queue_filled.float()
        self._enqueue(keys)
        return losses

    def features(self, inputs: Tensor, derive_views: bool = False) -> Dict[str, Tensor]:
        """``dict(v=...)``: GAP of the query backbone's last map, (N, C), averaged over
        the clips of (N, M, C, T, H, W) input.

        ``derive_views=True`` adds the clip's static and dynamic projections, ``z_vs`` =
        g_vs(GAP(F_v ⊙ Â_s)) and ``z_vd`` = g_vd(GAP(F_v ⊙ Â_d)), (N, D) each, as the
        loss computes them for q: Â_s and Â_d from the key encoder, on the static frame
        and the frame difference that the data preprocessor derives from each clip
        (``ConceptDataPreprocessor.views_from_clip``). These are the features DCLR
        decouples, which the method comparison probes.
        """
        if inputs.dim() == 5:
            clips, num_clips = inputs, 1
        elif inputs.dim() == 6:
            clips, num_clips = inputs.flatten(0, 1), inputs.shape[1]
        else:
            raise ValueError(f'DCLR: features need (N, C, T, H, W) or (N, M, C, T, H, W), '
                             f'got {tuple(inputs.shape)}')
        f_v = _last_feature_map(self.backbone(clips), self.backbone)
        out = dict(v=f_v.mean(dim=(2, 3, 4)))
        if derive_views:
            derived = derive_clip_views(self.data_preprocessor, clips)
            key = self.key_encoder.module
            for name, view in (('vs', derived['static']), ('vd', derived['diff'])):
                weights = normalised_activation(activation_map(
                    _last_feature_map(key['backbone'](view), key['backbone'])))
                if weights.shape[1:] != f_v.shape[2:]:
                    # d has one frame fewer than the clip: bring its map to the clip's grid
                    weights = nn.functional.interpolate(
                        weights[:, None], size=f_v.shape[2:], mode='nearest')[:, 0]
                out[f'z_{name}'] = self.heads[name](activation_weighted_pool(f_v, weights))
        return {name: value.reshape(-1, num_clips, value.shape[1]).mean(dim=1)
                for name, value in out.items()}

    def predict(self, inputs: Tensor, data_samples=None) -> List[ActionDataSample]:
        features = self.features(inputs)['v']
        if data_samples is None:
            data_samples = [ActionDataSample() for _ in range(features.shape[0])]
        if len(data_samples) != features.shape[0]:
            raise ValueError(f'DCLR: {len(data_samples)} data samples for a batch of '
                             f'{features.shape[0]}')
        for index, sample in enumerate(data_samples):
            sample.set_field(features[index].detach(), 'v')
        return data_samples


__all__ = ['DCLR', 'DCLR_VIEWS', 'HEAD_NAMES']
