"""Optional instance contrast between views (the extra InfoNCE terms of the authors' code)."""
from typing import Dict, Optional, Sequence, Tuple

import torch.nn as nn
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from ..losses import info_nce_loss

_VIEWS = ('clip', 'static', 'diff')


@MODELS.register_module()
class ViewContrastHead(BaseModule):
    """InfoNCE between the pooled features of pairs of views of the same videos.

    Not part of the paper's objective (Eq. 11). The authors' released code adds such terms
    (clip-static, clip-difference, clip-second clip; temperature 0.07 on 128-d MLP
    projections); a config enables them by adding this head to
    ``ConceptPretrainRecognizer(contrast_head=...)``. Each view gets its own projection
    ``Linear(C, hidden) - BatchNorm1d - ReLU - Linear(hidden, out)``.

    Why it can matter: the swapped prediction of Eq. 4 only has a gradient that separates
    videos once the two views' concept codes already agree a little. The contrast between
    a clip and its own frame difference rewards, from the first iteration, whatever the
    two share (the motion), so the dynamic codes have something to align.

    Args:
        in_channels (int): C, channels of the pooled backbone features.
        pairs (sequence of (str, str)): the view pairs, names among ``clip``, ``static``,
            ``diff``. Default ``(('clip', 'diff'),)``.
        hidden_channels (int): hidden width of each projection. Default 512.
        out_channels (int): embedding width. Default 128.
        temperature (float): InfoNCE temperature. Default 0.07.
        loss_weight (float): weight of each pair's loss. Default 1.0.
        init_cfg (dict, optional): mmengine initialisation config.

    Shapes:
        ``loss(pooled)``: ``pooled`` maps view -> ``(N, C)`` and must hold every view of
        ``pairs``; returns ``dict(loss_nce_<a>_<b>=scalar)`` per pair, weighted.
    """

    def __init__(self,
                 in_channels: int,
                 pairs: Sequence[Tuple[str, str]] = (('clip', 'diff'), ),
                 hidden_channels: int = 512,
                 out_channels: int = 128,
                 temperature: float = 0.07,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels),
                            ('hidden_channels', hidden_channels),
                            ('out_channels', out_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'ViewContrastHead: {name} must be a positive integer, '
                                 f'got {value!r}')
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise ValueError(f'ViewContrastHead: temperature must be positive, got '
                             f'{temperature!r}')
        if not (isinstance(loss_weight, (int, float)) and loss_weight >= 0):
            raise ValueError(f'ViewContrastHead: loss_weight must be >= 0, got '
                             f'{loss_weight!r}')
        checked = []
        for pair in pairs:
            if (isinstance(pair, str) or len(pair) != 2 or pair[0] == pair[1]
                    or any(view not in _VIEWS for view in pair)):
                raise ValueError(f'ViewContrastHead: each pair must be two different views '
                                 f'among {_VIEWS}, got {pair!r}')
            checked.append((str(pair[0]), str(pair[1])))
        if not checked:
            raise ValueError('ViewContrastHead: pairs is empty')
        self.in_channels = in_channels
        self.pairs = tuple(checked)
        self.temperature = float(temperature)
        self.loss_weight = float(loss_weight)
        views = sorted({view for pair in self.pairs for view in pair})
        self.projections = nn.ModuleDict({
            view: nn.Sequential(
                nn.Linear(in_channels, hidden_channels), nn.BatchNorm1d(hidden_channels),
                nn.ReLU(inplace=True), nn.Linear(hidden_channels, out_channels))
            for view in views
        })

    def loss(self, pooled: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Weighted InfoNCE of every pair; see the class docstring."""
        missing = [view for view in self.projections if view not in pooled]
        if missing:
            raise KeyError(f'ViewContrastHead: pooled features lack the views {missing} '
                           f'used by pairs={self.pairs}')
        for view in self.projections:
            if pooled[view].dim() != 2 or pooled[view].shape[1] != self.in_channels:
                raise ValueError(f"ViewContrastHead: pooled['{view}'] must be (N, "
                                 f'{self.in_channels}), got {tuple(pooled[view].shape)}')
        embeddings = {view: proj(pooled[view]) for view, proj in self.projections.items()}
        return {
            f'loss_nce_{a}_{b}': self.loss_weight * info_nce_loss(
                embeddings[a], embeddings[b], self.temperature)
            for a, b in self.pairs
        }
