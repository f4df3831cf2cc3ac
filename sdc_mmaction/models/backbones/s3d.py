"""S3D: the separable 3D Inception network of Xie et al., ECCV 2018.

"Rethinking Spatiotemporal Feature Learning: Speed-Accuracy Trade-offs in Video
Classification" (https://arxiv.org/abs/1712.04851). S3D takes the Inception-v1 layout
inflated to 3D (as in I3D) and factorises every 3D convolution with a temporal extent into a
spatial ``1 x k x k`` convolution followed by a temporal ``k x 1 x 1`` one, each with its own
normalisation and ReLU; point-wise ``1 x 1 x 1`` convolutions stay as they are. S3D-G adds
a feature gate after each Inception block (``use_gating=True``). This is the encoder that
CoCLR and SDC use at 16-32 x 128 x 128.

MMAction2 1.2.0 has no S3D, so it is written here from the paper's description.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmaction.registry import MODELS

# Inception-v1 channel plan, per block: (branch 1x1, branch 3x3 reduce, branch 3x3,
# branch "5x5" reduce, branch "5x5" (a 3x3 in the 3D version), branch pool projection).
_INCEPTION_CHANNELS = {
    'mixed_3b': (64, 96, 128, 16, 32, 32),
    'mixed_3c': (128, 128, 192, 32, 96, 64),
    'mixed_4b': (192, 96, 208, 16, 48, 64),
    'mixed_4c': (160, 112, 224, 24, 64, 64),
    'mixed_4d': (128, 128, 256, 24, 64, 64),
    'mixed_4e': (112, 144, 288, 32, 64, 64),
    'mixed_4f': (256, 160, 320, 32, 128, 128),
    'mixed_5b': (256, 160, 320, 32, 128, 128),
    'mixed_5c': (384, 192, 384, 48, 128, 128),
}
# Stage name -> the Inception blocks it holds (stages 1 and 2 are the convolutional stem).
_STAGE_BLOCKS = {
    3: ('mixed_3b', 'mixed_3c'),
    4: ('mixed_4b', 'mixed_4c', 'mixed_4d', 'mixed_4e', 'mixed_4f'),
    5: ('mixed_5b', 'mixed_5c'),
}
NUM_STAGES = 5


class SeparableConv3d(nn.Module):
    """A ``k x k x k`` convolution factorised as ``1 x k x k`` then ``k x 1 x 1``.

    Both halves are followed by normalisation and ReLU, as in S3D. Padding is ``k // 2`` on
    every axis, so a stride ``s`` gives ``ceil(L / s)`` outputs (TensorFlow's 'SAME').

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels (of both halves).
        kernel_size (int): ``k``.
        stride (tuple[int, int]): (temporal, spatial) stride.
        conv_cfg, norm_cfg, act_cfg (dict): passed to :class:`mmcv.cnn.ConvModule`
            (``conv_cfg`` None means ``Conv3d``).

    Shapes: (N, in_channels, T, H, W) -> (N, out_channels, T / st, H / ss, W / ss).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: Tuple[int, int] = (1, 1), conv_cfg=None, norm_cfg=None,
                 act_cfg=None):
        super().__init__()
        stride_t, stride_s = stride
        pad = kernel_size // 2
        common = dict(conv_cfg=conv_cfg or dict(type='Conv3d'), norm_cfg=norm_cfg,
                      act_cfg=act_cfg, bias=False)
        self.spatial = ConvModule(in_channels, out_channels, (1, kernel_size, kernel_size),
                                  stride=(1, stride_s, stride_s), padding=(0, pad, pad),
                                  **common)
        self.temporal = ConvModule(out_channels, out_channels, (kernel_size, 1, 1),
                                   stride=(stride_t, 1, 1), padding=(pad, 0, 0), **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.spatial(x))


class FeatureGate(nn.Module):
    """S3D-G's self-gating: scale each channel by a sigmoid of its global average.

    Shapes: (N, C, T, H, W) -> (N, C, T, H, W).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return x * weights[:, :, None, None, None]


class SeparableInceptionBlock(nn.Module):
    """An Inception-v1 block whose 3 x 3 x 3 convolutions are separable.

    Four branches concatenated along channels: ``1x1x1``; ``1x1x1 -> sep 3x3x3``;
    ``1x1x1 -> sep 3x3x3``; ``3x3x3 max-pool (stride 1) -> 1x1x1``.

    Args:
        in_channels (int): input channels.
        branch_channels (Sequence[int]): the six widths, in the order of
            ``_INCEPTION_CHANNELS``.
        use_gating (bool): gate each branch's output (S3D-G).
        conv_cfg, norm_cfg, act_cfg (dict): passed to :class:`mmcv.cnn.ConvModule`.

    Shapes: (N, in_channels, T, H, W) -> (N, out_channels, T, H, W) with
    ``out_channels = b0 + b1 + b2 + b3``.
    """

    def __init__(self, in_channels: int, branch_channels: Sequence[int],
                 use_gating: bool = False, conv_cfg=None, norm_cfg=None, act_cfg=None):
        super().__init__()
        b0, b1_reduce, b1, b2_reduce, b2, b3 = branch_channels
        common = dict(conv_cfg=conv_cfg or dict(type='Conv3d'), norm_cfg=norm_cfg, act_cfg=act_cfg)
        point = dict(kernel_size=1, bias=False, **common)
        self.branch0 = ConvModule(in_channels, b0, **point)
        self.branch1 = nn.Sequential(
            ConvModule(in_channels, b1_reduce, **point),
            SeparableConv3d(b1_reduce, b1, 3, **common))
        self.branch2 = nn.Sequential(
            ConvModule(in_channels, b2_reduce, **point),
            SeparableConv3d(b2_reduce, b2, 3, **common))
        self.branch3 = nn.Sequential(
            nn.MaxPool3d(kernel_size=3, stride=1, padding=1),
            ConvModule(in_channels, b3, **point))
        widths = (b0, b1, b2, b3)
        self.out_channels = sum(widths)
        self.gates = nn.ModuleList(FeatureGate(w) for w in widths) if use_gating else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)]
        if self.gates is not None:
            outputs = [gate(out) for gate, out in zip(self.gates, outputs)]
        return torch.cat(outputs, dim=1)


@MODELS.register_module()
class S3D(BaseModule):
    """Separable 3D Inception network (S3D / S3D-G) returning its last feature map.

    Layout (strides as (temporal, spatial); every pooling and strided convolution gives
    ``ceil(L / stride)`` outputs, like TensorFlow's 'SAME'):

    ====== ======================================================== ===========
    stage  layers                                                    stride
    ====== ======================================================== ===========
    1      separable 7x7x7 conv, 64                                  (2, 2)
    2      1x3x3 max-pool; 1x1x1 conv, 64; separable 3x3x3 conv, 192 (1, 2)
    3      1x3x3 max-pool; Inception 3b, 3c                          (1, 2)
    4      3x3x3 max-pool; Inception 4b - 4f                         (2, 2)
    5      2x2x2 max-pool; Inception 5b, 5c (1024 channels)          (2, 2)
    ====== ======================================================== ===========

    Args:
        in_channels (int): input channels (3 for RGB). Defaults to 3.
        width_multiplier (float): scales every layer's width (rounded, at least 1), for
            small models in tests; ``1.0`` is the published network. Defaults to 1.0.
        use_gating (bool): S3D-G feature gating after each Inception branch.
            Defaults to False (S3D, as in CoCLR and SDC).
        frozen_stages (int): freeze stages ``1..frozen_stages`` (parameters and
            normalisation statistics); -1 freezes nothing. Defaults to -1.
        norm_eval (bool): keep every normalisation layer in eval mode while training
            (for linear probes). Defaults to False.
        conv_cfg (dict): convolution config. Defaults to ``dict(type='Conv3d')``.
        norm_cfg (dict): normalisation config. Defaults to
            ``dict(type='BN3d', eps=1e-3, requires_grad=True)``.
        act_cfg (dict): activation config. Defaults to ``dict(type='ReLU', inplace=True)``.
        init_cfg (dict | list[dict]): weight initialisation; defaults to Kaiming-normal
            convolutions (fan-out), unit-scale / zero-shift normalisation and small normal
            gate weights. A ``dict(type='Pretrained', checkpoint=...)`` loads weights.

    Attributes:
        feat_dim (int): channels of the output feature map (1024 at width 1.0).

    Shapes: input (N, in_channels, T, H, W) -> output (N, feat_dim, ceil(T / 8),
    ceil(H / 32), ceil(W / 32)); e.g. 16 x 128 x 128 -> (N, 1024, 2, 4, 4).
    """

    def __init__(self,
                 in_channels: int = 3,
                 width_multiplier: float = 1.0,
                 use_gating: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 conv_cfg=dict(type='Conv3d'),
                 norm_cfg=dict(type='BN3d', eps=1e-3, requires_grad=True),
                 act_cfg=dict(type='ReLU', inplace=True),
                 init_cfg=(dict(type='Kaiming', layer='Conv3d', mode='fan_out',
                                nonlinearity='relu', distribution='normal'),
                           dict(type='Constant', layer='_BatchNorm', val=1, bias=0),
                           dict(type='Normal', layer='Linear', std=0.01, bias=0))):
        if isinstance(init_cfg, tuple):
            init_cfg = list(init_cfg)
        super().__init__(init_cfg=init_cfg)
        if not isinstance(width_multiplier, (int, float)) or width_multiplier <= 0:
            raise ValueError(f'S3D: width_multiplier must be a positive number, got '
                             f'{width_multiplier!r}')
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= NUM_STAGES:
            raise ValueError(f'S3D: frozen_stages must be an int in [-1, {NUM_STAGES}], '
                             f'got {frozen_stages!r}')
        self.in_channels = in_channels
        self.width_multiplier = float(width_multiplier)
        self.use_gating = use_gating
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        width = self._scaled
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

        self.stage1 = SeparableConv3d(in_channels, width(64), 7, stride=(2, 2), **common)
        self.stage2 = nn.Sequential(
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            ConvModule(width(64), width(64), 1, bias=False, **common),
            SeparableConv3d(width(64), width(192), 3, **common))
        pools = {
            3: nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            4: nn.MaxPool3d(kernel_size=3, stride=2, padding=1),
            # even kernel: ceil_mode keeps the 'SAME' output size ceil(L / 2)
            5: nn.MaxPool3d(kernel_size=2, stride=2, ceil_mode=True),
        }
        channels = width(192)
        for stage, block_names in _STAGE_BLOCKS.items():
            layers: List[nn.Module] = [pools[stage]]
            for name in block_names:
                block = SeparableInceptionBlock(
                    channels, [width(c) for c in _INCEPTION_CHANNELS[name]],
                    use_gating=use_gating, **common)
                layers.append(block)
                channels = block.out_channels
            self.add_module(f'stage{stage}', nn.Sequential(*layers))
        self.feat_dim = channels

    def _scaled(self, channels: int) -> int:
        return max(1, int(round(channels * self.width_multiplier)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, T, H, W) -> last feature map (N, feat_dim, T', H', W')."""
        if x.dim() != 5:
            raise ValueError(f'S3D expects a 5-D input (N, C, T, H, W), got shape '
                             f'{tuple(x.shape)}')
        if x.shape[1] != self.in_channels:
            raise ValueError(f'S3D was built for in_channels={self.in_channels}, got an '
                             f'input with {x.shape[1]} channels (shape {tuple(x.shape)})')
        for stage in range(1, NUM_STAGES + 1):
            x = getattr(self, f'stage{stage}')(x)
        return x

    def _freeze_stages(self) -> None:
        for stage in range(1, self.frozen_stages + 1):
            module = getattr(self, f'stage{stage}')
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def init_weights(self) -> None:
        super().init_weights()
        self._freeze_stages()

    def train(self, mode: bool = True) -> 'S3D':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
