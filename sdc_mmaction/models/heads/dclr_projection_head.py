"""DCLRProjectionHead: the two-layer MLP that maps a pooled feature to a unit embedding."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmaction.registry import MODELS


@MODELS.register_module()
class DCLRProjectionHead(BaseModule):
    """Linear - ReLU - Linear, then L2 normalisation (one of DCLR's five heads).

    Args:
        in_channels (int): channels of the pooled feature (the backbone's last stage).
        hidden_channels (int): width of the hidden layer. Defaults to 512.
        out_channels (int): embedding size. Defaults to 128.
        init_std (float): std of the normal initialisation of both linear layers (biases
            start at zero), as in the authors' code. Defaults to 0.01.
        init_cfg (dict, optional): overrides the initialisation above.

    Input ``(N, in_channels)``; output ``(N, out_channels)`` with unit rows.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int = 512,
                 out_channels: int = 128,
                 init_std: float = 0.01,
                 init_cfg: Optional[dict] = None) -> None:
        if init_cfg is None:
            init_cfg = dict(type='Normal', layer='Linear', std=init_std, bias=0)
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels), ('hidden_channels', hidden_channels),
                            ('out_channels', out_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'DCLRProjectionHead: {name} must be a positive int, '
                                 f'got {value!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.ReLU(inplace=True),
            nn.Linear(hidden_channels, out_channels))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'DCLRProjectionHead expects (N, {self.in_channels}), got '
                             f'{tuple(x.shape)}')
        return F.normalize(self.mlp(x), dim=1)
