"""S3D backbone: layout, output shapes, options and errors."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import MODELS
from sdc_mmaction.models.backbones.s3d import S3D, SeparableConv3d


def tiny(**kwargs):
    cfg = dict(type='S3D', width_multiplier=0.125)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_full_width_layout_and_output_shape():
    model = S3D()
    assert model.feat_dim == 1024
    # The S3D of the paper is about 8 M parameters (Inception-v1 in 3D, factorised).
    num_params = sum(p.numel() for p in model.parameters())
    assert 7.5e6 < num_params < 8.5e6, num_params
    # every k x k x k convolution with k > 1 is factorised into 1 x k x k and k x 1 x 1
    for module in model.modules():
        if isinstance(module, torch.nn.Conv3d):
            t, h, w = module.kernel_size
            assert t == 1 or (h, w) == (1, 1), module
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 8, 64, 64))
    assert out.shape == (1, 1024, 1, 2, 2)


@pytest.mark.parametrize('size,expected', [
    ((8, 32, 32), (1, 1, 1)),
    ((16, 64, 64), (2, 2, 2)),
    # odd sizes round up at every stride, like TensorFlow's 'SAME' (S3D's original code)
    ((7, 33, 33), (1, 2, 2)),
    ((16, 112, 112), (2, 4, 4)),
])
def test_tiny_output_shapes(size, expected):
    model = tiny()
    assert model.feat_dim == 128
    with torch.no_grad():
        out = model(torch.randn(2, 3, *size))
    assert out.shape == (2, 128, *expected)


def test_separable_conv_is_two_convolutions_with_strides():
    conv = SeparableConv3d(3, 4, 7, stride=(2, 2), norm_cfg=dict(type='BN3d'),
                           act_cfg=dict(type='ReLU'))
    assert conv.spatial.conv.kernel_size == (1, 7, 7)
    assert conv.spatial.conv.stride == (1, 2, 2)
    assert conv.temporal.conv.kernel_size == (7, 1, 1)
    assert conv.temporal.conv.stride == (2, 1, 1)
    assert conv(torch.randn(1, 3, 5, 9, 9)).shape == (1, 4, 3, 5, 5)


def test_gating_adds_gates_and_keeps_shape():
    plain, gated = tiny(), tiny(use_gating=True)
    assert not any('gates' in n for n, _ in plain.named_parameters())
    assert any('gates' in n for n, _ in gated.named_parameters())
    out = gated(torch.randn(2, 3, 8, 32, 32))
    assert out.shape == (2, 128, 1, 1, 1)


def test_gradients_reach_the_first_layer():
    model = tiny(use_gating=True)
    model(torch.randn(2, 3, 8, 32, 32)).mean().backward()
    first = model.stage1.spatial.conv.weight.grad
    assert first is not None and first.abs().sum() > 0


def test_init_weights():
    model = tiny(use_gating=True)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(3.0)
    model.init_weights()
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)
        if isinstance(module, torch.nn.Conv3d):
            assert module.weight.std() > 0 and module.weight.abs().max() < 3
        if isinstance(module, torch.nn.Linear):
            assert module.weight.abs().max() < 0.1 and torch.all(module.bias == 0)


def test_frozen_stages_and_norm_eval():
    model = tiny(frozen_stages=2, norm_eval=False)
    model.init_weights()
    model.train()
    for stage in (1, 2):
        module = getattr(model, f'stage{stage}')
        assert all(not p.requires_grad for p in module.parameters())
        assert all(not m.training for m in module.modules())
    assert all(p.requires_grad for p in model.stage3.parameters())
    assert model.stage3.training

    model = tiny(norm_eval=True)
    model.train()
    assert all(not m.training for m in model.modules() if isinstance(m, _BatchNorm))
    assert model.stage5.training


@pytest.mark.parametrize('kwargs,match', [
    (dict(width_multiplier=0), 'width_multiplier'),
    (dict(width_multiplier=-1.0), 'width_multiplier'),
    (dict(frozen_stages=6), 'frozen_stages'),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S3D(**kwargs)


def test_bad_inputs():
    model = tiny()
    with pytest.raises(ValueError, match='5-D'):
        model(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match='in_channels=3'):
        model(torch.randn(2, 1, 8, 32, 32))
