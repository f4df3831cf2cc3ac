"""BlockGRUHead: DPC / CoCon's classifier for fine-tuning, over a clip's blocks."""
from typing import Optional

import torch.nn as nn
from torch import Tensor

from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS


@MODELS.register_module()
class BlockGRUHead(BaseHead):
    """Classify a clip from its blocks: a ConvGRU over the blocks' feature maps, then
    BatchNorm, spatial average, dropout and a linear classifier.

    Works with MMAction2's ``Recognizer3D`` when each clip reaches the backbone as
    ``num_blocks`` consecutive blocks (``SplitBlocks`` after ``FormatShape``): the
    backbone then gives ``(B * M * num_blocks, C, t, s, s)`` for B videos of M clips,
    this head returns ``(B * M, num_classes)`` and ``predict`` averages the M clips.

    Args:
        num_classes (int): classes.
        in_channels (int): the backbone's channels.
        num_blocks (int): blocks per clip.
        aggregator (dict): ConvGRU config (``input_size`` is filled in). Defaults to one
            layer of ``in_channels`` hidden channels and 1x1 kernels.
        dropout_ratio (float): dropout before the classifier. Defaults to 0.5.
        loss_cls, average_clips, init_cfg: as in ``BaseHead``.
    """

    def __init__(self, num_classes: int, in_channels: int, num_blocks: int,
                 aggregator: Optional[dict] = None, dropout_ratio: float = 0.5,
                 loss_cls: dict = dict(type='CrossEntropyLoss'),
                 average_clips: str = 'prob', init_cfg=None, **kwargs) -> None:
        super().__init__(num_classes, in_channels, loss_cls=loss_cls,
                         average_clips=average_clips, init_cfg=init_cfg, **kwargs)
        if num_blocks < 1:
            raise ValueError(f'BlockGRUHead: num_blocks must be >= 1, got {num_blocks}')
        self.num_blocks = num_blocks
        aggregator = dict(aggregator or dict(type='ConvGRU', hidden_size=in_channels,
                                             kernel_size=1, num_layers=1, dropout=0.0))
        aggregator['input_size'] = in_channels
        self.aggregator = MODELS.build(aggregator)
        self.bn = nn.BatchNorm2d(self.aggregator.hidden_size)
        self.dropout = nn.Dropout(dropout_ratio)
        self.fc_cls = nn.Linear(self.aggregator.hidden_size, num_classes)

    def init_weights(self) -> None:
        nn.init.normal_(self.fc_cls.weight, std=0.01)
        nn.init.zeros_(self.fc_cls.bias)

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        if x.dim() != 5 or x.shape[0] % self.num_blocks:
            raise ValueError(f'BlockGRUHead expects (clips * {self.num_blocks}, C, t, s, s) '
                             f'block features, got {tuple(x.shape)}')
        x = x.mean(dim=2)
        x = x.reshape((-1, self.num_blocks) + x.shape[1:])
        _, hidden = self.aggregator(x)
        x = self.bn(hidden[-1]).mean(dim=(2, 3))
        return self.fc_cls(self.dropout(x))
