"""ResNet2d3d: shapes of DPC's layout, 2D/3D stages, no final ReLU, bad input."""
import pytest
import torch

from mmaction.registry import MODELS

import sdc_mmaction  # noqa: F401


def test_dpc_output_shape_at_128():
    model = MODELS.build(dict(type='ResNet2d3d', depth=18, in_channels=3, base_channels=8))
    model.init_weights()
    out = model(torch.randn(2, 3, 5, 128, 128))
    # DPC / CoCon: 5 x 128 x 128 blocks -> 2 x 4 x 4 maps of 4 * base channels
    assert out.shape == (2, 32, 2, 4, 4)
    assert (out < 0).any(), 'the last block has no ReLU, so features can be negative'


def test_stage_kinds_and_widths():
    model = MODELS.build(dict(type='ResNet2d3d', depth=18, in_channels=2))
    assert model.out_channels == 256
    assert model.conv1.in_channels == 2
    assert model.layer2[0].conv1.kernel_size == (1, 3, 3)  # 2D stage
    assert model.layer3[0].conv1.kernel_size == (3, 3, 3)  # 3D stage
    assert model.layer4[-1].conv2.out_channels == 256
    assert len(model.layer1) == 2 and len(model.layer4) == 2
    assert len(MODELS.build(dict(type='ResNet2d3d', depth=34)).layer3) == 6


def test_bad_arguments_and_input():
    with pytest.raises(ValueError, match='depth'):
        MODELS.build(dict(type='ResNet2d3d', depth=50))
    model = MODELS.build(dict(type='ResNet2d3d', in_channels=2, base_channels=4))
    with pytest.raises(ValueError, match=r'\(N, 2, T, H, W\)'):
        model(torch.randn(1, 3, 5, 32, 32))
