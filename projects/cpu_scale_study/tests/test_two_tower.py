"""TwoTowerConceptRecognizer: one backbone per half of Eq. 4 (not the paper)."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope

import projects.cpu_scale_study.cpu_scale_study  # noqa: F401  (registration)
from mmaction.registry import HOOKS, MODELS
from projects.cpu_scale_study.cpu_scale_study.models import TeacherConceptRecognizer
from hook_helpers import fake_runner, weights_over_epochs
from test_teacher_recognizer import CHANNELS, KD, KS, batch, model_cfg


@pytest.fixture(autouse=True, scope='module')
def mmaction_scope():
    init_default_scope('mmaction')  # mmcv builds Conv2plus1d through the default scope


def build(regression=2.0, **overrides):
    cfg = model_cfg(type='TwoTowerConceptRecognizer', target_momentum=0.1)
    cfg['align_head'] = dict(cfg['align_head'], dynamic_code_regression_weight=regression)
    cfg.update(overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_each_tower_trains_one_half():
    model = build()
    static, dynamic = model.align_head, model.dynamic_tower.align_head
    assert (static.static_half_weight, static.dynamic_half_weight) == (1.0, 0.0)
    assert (dynamic.static_half_weight, dynamic.dynamic_half_weight) == (0.0, 1.0)
    assert static.dynamic_code_regression_weight == 0.0
    assert dynamic.dynamic_code_regression_weight == 2.0
    assert model.target_backbones is None
    assert list(model.dynamic_tower.target_backbones) == ['backbone']
    static_params = {id(p) for p in model.backbone.parameters()}
    assert not static_params & {id(p) for p in model.dynamic_tower.backbone.parameters()}


def test_loss_is_both_towers_losses_and_each_half_reaches_only_its_backbone():
    model = build()
    model.train()
    inputs = batch(n=2, size=32)
    reference = copy.deepcopy(model)
    expected_static = TeacherConceptRecognizer.loss(reference, inputs)
    expected_dynamic = reference.dynamic_tower.loss(inputs)
    losses = model(inputs, None, mode='loss')
    assert set(losses) == {
        'loss_aln', 'loss_fid', 'loss_div', 'loss_loc', 'aln_static', 'valid_static',
        'valid_dynamic', 'loss_aln_dyn', 'loss_fid_dyn', 'loss_div_dyn', 'loss_loc_dyn',
        'aln_dynamic', 'loss_code_reg', 'valid_static_dyn', 'valid_dynamic_dyn'}
    for key in ('loss_aln', 'loss_fid', 'aln_static'):
        torch.testing.assert_close(losses[key], expected_static[key], msg=key)
    for key in ('loss_aln', 'loss_fid', 'aln_dynamic', 'loss_code_reg'):
        name = key if key in ('aln_dynamic', 'loss_code_reg') else f'{key}_dyn'
        torch.testing.assert_close(losses[name], expected_dynamic[key], msg=key)
    # each tower's alignment trains its own backbone only
    losses['loss_aln'].backward(retain_graph=True)
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.backbone.parameters())
    assert all(p.grad is None for p in model.dynamic_tower.backbone.parameters())
    model.zero_grad(set_to_none=True)
    losses['loss_aln_dyn'].backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.dynamic_tower.backbone.parameters())


def test_features_take_each_half_from_its_tower():
    model = build().eval()
    clips = batch(n=2, views=1, size=32)[:, 0]
    with torch.no_grad():
        out = model(clips, None, mode='tensor')
        static = TeacherConceptRecognizer.features(model, clips)
        dynamic = model.dynamic_tower.features(clips)
    assert out['v'].shape == (2, 2 * CHANNELS)
    torch.testing.assert_close(out['v'], torch.cat([static['v'], dynamic['v']], 1))
    for name in ('q_v_s', 'p_v_s', 'F_v_s'):
        torch.testing.assert_close(out[name], static[name], msg=name)
    for name in ('q_v_d', 'p_v_d', 'F_v_d'):
        torch.testing.assert_close(out[name], dynamic[name], msg=name)
    assert not torch.allclose(static['q_v_d'], dynamic['q_v_d'])  # the towers differ
    torch.testing.assert_close(out['q_v'], torch.cat([out['q_v_s'], out['q_v_d']], 1))
    assert model.dynamic_half_model is model.dynamic_tower
    # q_v^d from the dynamic tower's align head over the last C channels of v
    head = model.dynamic_half_model.align_head
    torch.testing.assert_close(head(dict(clip=out['v'][:, -CHANNELS:]))['clip'][:, KS:],
                               out['q_v_d'])
    assert out['F_v'].shape[1] == out['attn_v'].shape[1] == KS + KD
    torch.testing.assert_close(out['attn_v'][:, KS:], dynamic['attn_v'][:, KS:])


def test_hooks_reach_the_dynamic_tower_by_a_dotted_name():
    model = build()
    hook = HOOKS.build(dict(type='LocalLossWarmupHook', warmup_epochs=2,
                            head_name='dynamic_tower.local_head'))
    weights = weights_over_epochs(hook, fake_runner(model),
                                  lambda: model.dynamic_tower.local_head.loss_weight)
    assert weights == [0.0, 0.0, 1.0, 1.0]
    assert model.local_head.loss_weight == 1.0  # the static tower's is left alone
    with pytest.raises(AttributeError, match="no 'dynamic_tower.missing'"):
        HOOKS.build(dict(type='LocalLossWarmupHook', head_name='dynamic_tower.missing')
                    ).before_run(fake_runner(model))


def test_build_errors():
    align_head = model_cfg()['align_head']
    with pytest.raises(ValueError, match='queue_length must be 0'):
        build(align_head=dict(align_head, queue_length=8))
    with pytest.raises(ValueError, match='shared_backbone must be True'):
        build(shared_backbone=False)
    with pytest.raises(ValueError, match='target_momentum'):  # the regression needs it
        build(target_momentum=None)


def test_the_dynamic_half_model_is_the_dynamic_tower():
    model = build()
    assert model.dynamic_half_model is model.dynamic_tower
