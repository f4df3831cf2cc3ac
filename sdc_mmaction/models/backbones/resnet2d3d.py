"""ResNet-2d3d: the backbone of DPC and CoCon (2D early stages, 3D late stages)."""
from typing import Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmaction.registry import MODELS


class _BasicBlock2d3d(nn.Module):
    """A ResNet basic block whose convolutions are 1x3x3 (``temporal=False``) or 3x3x3."""

    def __init__(self, in_channels: int, out_channels: int, stride: Tuple[int, int, int],
                 temporal: bool, final_relu: bool = True) -> None:
        super().__init__()
        kernel = (3, 3, 3) if temporal else (1, 3, 3)
        padding = (1, 1, 1) if temporal else (0, 1, 1)
        self.conv1 = nn.Conv3d(in_channels, out_channels, kernel, stride, padding, bias=False)
        self.bn1 = nn.BatchNorm3d(out_channels)
        self.conv2 = nn.Conv3d(out_channels, out_channels, kernel, 1, padding, bias=False)
        self.bn2 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.final_relu = final_relu
        self.downsample = None
        if in_channels != out_channels or any(s != 1 for s in stride):
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm3d(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + identity
        return self.relu(out) if self.final_relu else out


@MODELS.register_module()
class ResNet2d3d(BaseModule):
    """ResNet-2d3d of DPC / CoCon: a 1x7x7 stem and max-pool, two stages of 2D (1x3x3)
    basic blocks, then two stages of 3D (3x3x3) basic blocks that also stride in time.

    The last stage keeps the third stage's width (``4 * base_channels``) and, as in DPC,
    has no ReLU after its last block, so features can be negative before the caller's
    normalisation.

    Shapes (depth 18, base 64): input ``(N, C, 5, 128, 128)`` -> ``(N, 256, 2, 4, 4)``;
    the spatial size is divided by 32 and the temporal size by about 4 (two stride-2
    stages, rounded up).

    Args:
        depth (int): 10, 18 or 34 (blocks per stage (1,1,1,1), (2,2,2,2), (3,4,6,3)).
            Defaults to 18.
        in_channels (int): input channels (3 for RGB, 2 for optical flow).
            Defaults to 3.
        base_channels (int): width of the first stage. Defaults to 64.
        final_relu (bool): a ReLU after the last block. Defaults to False (DPC).
        init_cfg (dict, optional): mmengine initialisation config.
    """

    arch_settings = {10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

    def __init__(self, depth: int = 18, in_channels: int = 3, base_channels: int = 64,
                 final_relu: bool = False, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise ValueError(f'ResNet2d3d: depth must be one of {sorted(self.arch_settings)}, '
                             f'got {depth}')
        if in_channels < 1 or base_channels < 1:
            raise ValueError(f'ResNet2d3d: in_channels ({in_channels}) and base_channels '
                             f'({base_channels}) must be positive')
        self.depth = depth
        self.in_channels = in_channels
        self.out_channels = 4 * base_channels
        self.conv1 = nn.Conv3d(in_channels, base_channels, (1, 7, 7), (1, 2, 2), (0, 3, 3),
                               bias=False)
        self.bn1 = nn.BatchNorm3d(base_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        widths = (base_channels, 2 * base_channels, 4 * base_channels, 4 * base_channels)
        strides = ((1, 1, 1), (1, 2, 2), (2, 2, 2), (2, 2, 2))
        temporal = (False, False, True, True)
        blocks: Sequence[int] = self.arch_settings[depth]
        channels = base_channels
        for index in range(4):
            layers = []
            for block in range(blocks[index]):
                last = index == 3 and block == blocks[index] - 1
                layers.append(_BasicBlock2d3d(
                    channels, widths[index], strides[index] if block == 0 else (1, 1, 1),
                    temporal[index], final_relu=final_relu or not last))
                channels = widths[index]
            self.add_module(f'layer{index + 1}', nn.Sequential(*layers))

    def init_weights(self) -> None:
        if self.init_cfg is not None:
            super().init_weights()
            return
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f'ResNet2d3d expects (N, {self.in_channels}, T, H, W), got '
                             f'{tuple(x.shape)}')
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))
