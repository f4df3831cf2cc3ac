"""CoCon: loss terms per view and view pair, gradients into every encoder, no peeking at
the predicted blocks, the pooling of the cross-view terms, and the input checks."""
import pytest
import torch
import torch.nn.functional as F

from mmaction.registry import MODELS

import sdc_mmaction  # noqa: F401
from sdc_mmaction.models.recognizers.cocon import pool_block_features

BLOCKS = 4


def tiny_cocon(**kwargs):
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')  # the data preprocessor is built by mmengine's BaseModel
    cfg = dict(
        type='CoCon',
        views=dict(rgb=dict(in_channels=3), flow=dict(in_channels=2)),
        backbone=dict(type='ResNet2d3d', depth=10, base_channels=4),
        aggregator=dict(type='ConvGRU', hidden_size=8, dropout=0.1),
        predictor=dict(type='DensePredictor'),
        num_blocks=BLOCKS, num_pred_steps=2,
        data_preprocessor=dict(type='MultiViewDataPreprocessor',
                               mean=dict(rgb=[0.0] * 3, flow=[0.0] * 2),
                               std=dict(rgb=[1.0] * 3, flow=[1.0] * 2)))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(size=3):
    return dict(rgb=torch.randn(size, BLOCKS, 3, 3, 64, 64),
                flow=torch.randn(size, BLOCKS, 2, 3, 64, 64))


def test_loss_terms_and_gradients_reach_every_encoder():
    torch.manual_seed(0)
    model = tiny_cocon()
    losses = model(batch(), mode='loss')
    assert set(losses) == {'loss_cpc_rgb', 'loss_cpc_flow', 'loss_sync_rgb_flow',
                           'loss_sim_rgb_flow'}
    assert all(torch.isfinite(v) for v in losses.values())
    # only the cross-view terms: both views' backbones must receive gradient
    (losses['loss_sync_rgb_flow'] + losses['loss_sim_rgb_flow']).backward()
    for view in ('rgb', 'flow'):
        grad = model.encoders[view]['backbone'].conv1.weight.grad
        assert grad is not None and grad.abs().sum() > 0, view
    model.zero_grad()
    model(batch(), mode='loss')['loss_cpc_flow'].backward()
    assert model.encoders['flow']['predictor'].layers[0].weight.grad.abs().sum() > 0
    assert model.encoders['rgb']['backbone'].conv1.weight.grad is None  # separate weights


def test_loss_weights_scale_the_terms():
    torch.manual_seed(1)
    data = batch()
    model = tiny_cocon().eval()
    base = model(data, mode='loss')
    model.sync_weight, model.sim_weight = 1.0, 2.0
    scaled = model(data, mode='loss')
    assert scaled['loss_sync_rgb_flow'].item() == pytest.approx(
        base['loss_sync_rgb_flow'].item() / 10)
    assert scaled['loss_sim_rgb_flow'].item() == pytest.approx(
        base['loss_sim_rgb_flow'].item() / 5)


def test_predictions_see_only_the_context_blocks():
    torch.manual_seed(2)
    model = tiny_cocon().eval()
    clips = torch.randn(2, BLOCKS, 3, 3, 64, 64)
    with torch.no_grad():
        first = model.predict_blocks('rgb', model.block_features('rgb', clips))
        changed = clips.clone()
        changed[:, 2:] = torch.randn_like(changed[:, 2:])  # the predicted blocks
        second = model.predict_blocks('rgb', model.block_features('rgb', changed))
    assert first.shape == (2, 2, 16, 2, 2)
    assert torch.allclose(first, second)
    assert torch.allclose(first.norm(dim=2), torch.ones(2, 2, 2, 2), atol=1e-5)


def test_pool_block_features():
    x = torch.randn(2, 3, 5, 4, 4)
    expected = F.max_pool2d(x.reshape(6, 5, 4, 4), 2).mean(dim=(2, 3))
    assert torch.allclose(pool_block_features(x), expected)
    small = torch.randn(2, 3, 5, 2, 2)
    assert torch.allclose(pool_block_features(small), small.mean(dim=(3, 4)).reshape(6, 5))


def test_train_step_with_preprocessor_and_packed_samples():
    from mmengine.optim import OptimWrapper
    torch.manual_seed(3)
    model = tiny_cocon()
    samples = [dict(rgb=torch.rand(BLOCKS, 3, 3, 64, 64) * 255,
                    flow=torch.rand(BLOCKS, 2, 3, 64, 64) * 255) for _ in range(2)]
    data = dict(inputs=dict(rgb=[s['rgb'] for s in samples], flow=[s['flow'] for s in samples]),
                data_samples=None)
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    log_vars = model.train_step(data, wrapper)
    assert 'loss' in log_vars and torch.isfinite(log_vars['loss'])


def test_input_errors():
    model = tiny_cocon()
    with pytest.raises(KeyError, match='missing'):
        model(dict(rgb=torch.randn(2, BLOCKS, 3, 3, 64, 64)), mode='loss')
    with pytest.raises(ValueError, match='blocks'):
        model(dict(rgb=torch.randn(2, 3, 3, 3, 64, 64),
                   flow=torch.randn(2, 3, 2, 3, 64, 64)), mode='loss')
    with pytest.raises(ValueError, match='num_pred_steps'):
        tiny_cocon(num_pred_steps=BLOCKS)
    with pytest.raises(ValueError, match='one\nwidth|width'):
        tiny_cocon(views=dict(rgb=dict(in_channels=3),
                              flow=dict(in_channels=2, backbone=dict(base_channels=8))))
    with pytest.raises(NotImplementedError, match='--view'):
        model(batch(), mode='predict')
