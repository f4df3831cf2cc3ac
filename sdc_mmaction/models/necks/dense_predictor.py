"""DensePredictor: DPC's predictor of the next block's feature map from the aggregate."""
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmaction.registry import MODELS


@MODELS.register_module()
class DensePredictor(BaseModule):
    """Two 1x1 convolutions with a ReLU between them, applied at every cell:
    ``(B, C_in, H, W) -> (B, C_out, H, W)``.

    Args:
        in_channels (int): channels of the aggregated state.
        out_channels (int): channels of the predicted feature (the backbone's).
        hidden_channels (int, optional): width of the hidden layer. Defaults to
            ``in_channels``.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden_channels = hidden_channels or in_channels
        self.in_channels = in_channels
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden_channels, out_channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'DensePredictor expects (B, {self.in_channels}, H, W), got '
                             f'{tuple(x.shape)}')
        return self.layers(x)
