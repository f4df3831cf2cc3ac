"""CoCon: cooperative contrastive learning over several views of the same clips."""
import copy
from itertools import combinations
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from mmaction.registry import MODELS
from ..losses import (all_gather_with_grad, cross_view_similarity_loss,
                      dense_predictive_loss, view_sync_loss)


def pool_block_features(features: Tensor) -> Tensor:
    """One vector per block for the cross-view terms: ``(B, N, C, s, s) -> (B * N, C)``.

    Maps wider than 2 cells are max-pooled over 2 x 2 windows first and then averaged
    (CoCon's pooling at s = 4), smaller ones are only averaged.
    """
    batch, blocks, channels, height, width = features.shape
    x = features.reshape(batch * blocks, channels, height, width)
    if min(height, width) > 2:
        x = F.max_pool2d(x, kernel_size=2)
    return x.mean(dim=(2, 3))


@MODELS.register_module()
class CoCon(BaseModel):
    """CoCon (Rai et al., CVPRW 2021) over V views, one encoder per view.

    Each view has its own backbone, ConvGRU aggregator and dense predictor (DPC). A clip
    is ``num_blocks`` blocks of frames; per view and sample:

    1. the backbone maps every block to a feature map, averaged over time and
       L2-normalised over channels: ``f`` (B, N, C, s, s);
    2. the aggregator runs over the first ``N - K`` blocks (``K = num_pred_steps``); its
       state is L2-normalised;
    3. K times: predict the next block ``p = norm(predictor(h))``, then feed ``p`` to the
       aggregator (``h = norm(GRU(p, h))``);
    4. ``loss_cpc_<view>``: :func:`dense_predictive_loss` of the predictions against
       ``f`` of the last K blocks.

    For every pair of views (a, b), with ``z`` the spatially pooled ``f`` of all N blocks:
    ``loss_sync_<a>_<b> = sync_weight * view_sync_loss(z_a, z_b)`` and
    ``loss_sim_<a>_<b> = sim_weight * cross_view_similarity_loss(z_a, z_b)``. Gradients
    reach both views. Negatives are in-batch (no queue): with ``global_negatives`` (the
    default) the features of every process are gathered first, so under DDP each loss is
    the loss of the whole global batch, as in the reference code (``DataParallel``), and
    the DDP-averaged gradients equal one process's on that batch.

    Inputs (``forward``): ``dict(view -> Tensor (B, N, C_view, T, H, W))`` from
    :class:`MultiViewDataPreprocessor`; views may differ in channels and frame size, but
    all encoders must give the same feature width (L_sim compares the features).

    Args:
        views (dict): view name -> ``dict(in_channels=..., backbone=dict(...))``; the
            optional ``backbone`` entries override ``backbone`` for that view. Order sets
            the order of the loss terms.
        backbone (dict): backbone config shared by the views (``in_channels`` is set per
            view); it must expose ``out_channels``.
        aggregator (dict): ConvGRU config; ``input_size`` is filled in.
        predictor (dict): DensePredictor config; channels are filled in.
        num_blocks (int): blocks per clip, N. Defaults to 8.
        num_pred_steps (int): predicted blocks, K < N. Defaults to 3.
        cpc_temperature (float): temperature of the dot products of L_cpc. Defaults to
            ``0.07 ** 2`` (CoCon divides both sides by 0.07).
        sync_weight (float): weight of L_sync. Defaults to 10.
        sim_weight (float): weight of L_sim. Defaults to 10.
        sim_positive_weight (float): f of L_sim. Defaults to 0.5.
        global_negatives (bool): compute the losses over the batch of all processes
            (see above); False keeps each process's batch to itself. Defaults to True.
        data_preprocessor (dict): a :class:`MultiViewDataPreprocessor` config.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 views: Dict[str, dict],
                 backbone: dict,
                 aggregator: dict,
                 predictor: dict = dict(type='DensePredictor'),
                 num_blocks: int = 8,
                 num_pred_steps: int = 3,
                 cpc_temperature: float = 0.07 ** 2,
                 sync_weight: float = 10.0,
                 sim_weight: float = 10.0,
                 sim_positive_weight: float = 0.5,
                 global_negatives: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not views:
            raise ValueError('CoCon: views is empty')
        if not 0 < num_pred_steps < num_blocks:
            raise ValueError(f'CoCon: need 0 < num_pred_steps ({num_pred_steps}) < num_blocks '
                             f'({num_blocks}): the aggregator needs context blocks')
        self.view_names = tuple(views)
        self.num_blocks = num_blocks
        self.num_pred_steps = num_pred_steps
        self.cpc_temperature = cpc_temperature
        self.sync_weight = sync_weight
        self.sim_weight = sim_weight
        self.sim_positive_weight = sim_positive_weight
        self.global_negatives = global_negatives
        self.encoders = nn.ModuleDict()
        widths = {}
        for name, view_cfg in views.items():
            view_cfg = dict(view_cfg)
            unknown = set(view_cfg) - {'in_channels', 'backbone'}
            if unknown or 'in_channels' not in view_cfg:
                raise ValueError(f'CoCon: view {name!r} needs in_channels and may set backbone; '
                                 f'got keys {sorted(view_cfg)}')
            backbone_cfg = copy.deepcopy(backbone)
            backbone_cfg.update(view_cfg.get('backbone', {}))
            backbone_cfg['in_channels'] = view_cfg['in_channels']
            view_backbone = MODELS.build(backbone_cfg)
            width = view_backbone.out_channels
            widths[name] = width
            aggregator_cfg = dict(copy.deepcopy(aggregator), input_size=width)
            view_aggregator = MODELS.build(aggregator_cfg)
            predictor_cfg = dict(copy.deepcopy(predictor),
                                 in_channels=view_aggregator.hidden_size, out_channels=width)
            self.encoders[name] = nn.ModuleDict(dict(
                backbone=view_backbone, aggregator=view_aggregator,
                predictor=MODELS.build(predictor_cfg)))
        if len(self.view_names) > 1 and sim_weight and len(set(widths.values())) != 1:
            raise ValueError(f'CoCon: L_sim compares features across views, which needs one '
                             f'width; the backbones give {widths}')

    # ------------------------------------------------------------------ encoding
    def block_features(self, view: str, clips: Tensor) -> Tensor:
        """``(B, N, C, T, H, W)`` -> L2-normalised block features ``(B, N, D, s, s)``."""
        if clips.dim() != 6 or clips.shape[1] != self.num_blocks:
            raise ValueError(f'CoCon: view {view!r} needs (B, {self.num_blocks}, C, T, H, W) '
                             f'blocks, got {tuple(clips.shape)}')
        batch = clips.shape[0]
        maps = self.encoders[view]['backbone'](clips.flatten(0, 1))
        maps = maps.mean(dim=2)  # over the block's time
        return F.normalize(maps.reshape((batch, self.num_blocks) + maps.shape[1:]), dim=2)

    def predict_blocks(self, view: str, features: Tensor) -> Tensor:
        """DPC's prediction: ``(B, N, D, s, s)`` features -> ``(B, K, D, s, s)``
        predictions of the last K blocks from the first N - K."""
        encoder = self.encoders[view]
        context = features[:, :self.num_blocks - self.num_pred_steps]
        _, hidden = encoder['aggregator'](context)
        hidden = F.normalize(hidden, dim=2)
        predictions = []
        for _ in range(self.num_pred_steps):
            prediction = F.normalize(encoder['predictor'](hidden[-1]), dim=1)
            predictions.append(prediction)
            hidden = F.normalize(encoder['aggregator'].step(prediction, hidden), dim=2)
        return torch.stack(predictions, dim=1)

    def _check_inputs(self, inputs) -> Dict[str, Tensor]:
        if not isinstance(inputs, dict):
            raise TypeError('CoCon expects inputs as a dict of views (MultiViewDataPreprocessor),'
                            f' got {type(inputs).__name__}')
        missing = [v for v in self.view_names if v not in inputs]
        if missing:
            raise KeyError(f'CoCon: the batch has views {sorted(inputs)} but the model needs '
                           f'{list(self.view_names)} (missing {missing})')
        sizes = {v: inputs[v].shape[0] for v in self.view_names}
        if len(set(sizes.values())) != 1:
            raise ValueError(f'CoCon: views have different batch sizes {sizes}')
        return inputs

    def _gather(self, tensor: Tensor) -> Tensor:
        # every process then computes the same global loss; all_gather_with_grad sums the
        # processes' gradients, and DDP's average brings them back to one process's
        return all_gather_with_grad(tensor)[0] if self.global_negatives else tensor

    # ------------------------------------------------------------------ modes
    def loss(self, inputs: Dict[str, Tensor], data_samples=None) -> Dict[str, Tensor]:
        inputs = self._check_inputs(inputs)
        losses, pooled = {}, {}
        num_context = self.num_blocks - self.num_pred_steps
        for view in self.view_names:
            features = self.block_features(view, inputs[view])
            predictions = self.predict_blocks(view, features)
            losses[f'loss_cpc_{view}'] = dense_predictive_loss(
                self._gather(predictions), self._gather(features[:, num_context:]),
                self.cpc_temperature)
            # gathered per clip, so that a clip's blocks stay together
            pooled[view] = pool_block_features(self._gather(features))
        for view_a, view_b in combinations(self.view_names, 2):
            if self.sync_weight:
                losses[f'loss_sync_{view_a}_{view_b}'] = self.sync_weight * view_sync_loss(
                    pooled[view_a], pooled[view_b])
            if self.sim_weight:
                losses[f'loss_sim_{view_a}_{view_b}'] = (
                    self.sim_weight * cross_view_similarity_loss(
                        pooled[view_a], pooled[view_b], self.sim_positive_weight))
        return losses

    def extract_feat(self, inputs: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Per view, the pooled block features ``(B, N, D)`` (for analyses)."""
        inputs = self._check_inputs(inputs)
        out = {}
        for view in self.view_names:
            features = self.block_features(view, inputs[view])
            out[view] = pool_block_features(features).reshape(
                features.shape[0], self.num_blocks, -1)
        return out

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        if mode == 'predict':
            raise NotImplementedError(
                'CoCon is a pretraining model without a classifier: export a view\'s '
                'backbone (tools/convert_pretrained.py --view NAME) and fine-tune it')
        raise ValueError(f'CoCon: unknown mode {mode!r}')
