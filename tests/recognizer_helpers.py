"""A tiny ConceptPretrainRecognizer and batches for it, shared by the model tests."""
import torch
from mmengine.registry import init_default_scope

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import MODELS

KS, KD, TOP_K = 6, 4, 2
CHANNELS = 64  # R(2+1)D-18 with base_channels=8


def backbone_cfg():
    return dict(
        type='ResNet2Plus1d', depth=18, base_channels=8, pretrained=None,
        pretrained2d=False, conv_cfg=dict(type='Conv2plus1d'),
        norm_cfg=dict(type='BN3d', requires_grad=True, eps=1e-3), conv1_kernel=(3, 7, 7),
        conv1_stride_t=1, pool1_stride_t=1, inflate=(1, 1, 1, 1),
        spatial_strides=(1, 2, 2, 2), temporal_strides=(1, 2, 2, 2))


def model_cfg(**overrides):
    cfg = dict(
        type='ConceptPretrainRecognizer',
        backbone=backbone_cfg(),
        align_head=dict(type='ConceptAlignHead', in_channels=CHANNELS,
                        num_static_concepts=KS, num_dynamic_concepts=KD),
        local_head=dict(type='LocalConceptContrastHead', in_channels=CHANNELS,
                        num_static_concepts=KS, num_dynamic_concepts=KD, top_k=TOP_K),
        data_preprocessor=dict(type='mmengine.BaseDataPreprocessor'))
    cfg.update(overrides)
    return cfg


def build(**overrides):
    torch.manual_seed(0)
    return MODELS.build(model_cfg(**overrides))


def batch(n=4, views=3, t=8, size=64, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, views, 3, t, size, size, generator=gen)


def one_training_step(cfg):
    """Build ``cfg.model`` and compute one loss on a small random batch; the losses are
    checked to be finite. Returns ``(model, losses)``."""
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    losses = model(torch.randn(2, 3, 3, 8, 32, 32), None, mode='loss')
    assert all(torch.isfinite(v) for v in losses.values())
    return model, losses
