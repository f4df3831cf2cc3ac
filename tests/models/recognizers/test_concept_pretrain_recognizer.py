"""ConceptPretrainRecognizer on tiny inputs: modes, views, gradients, build-time checks."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from recognizer_helpers import CHANNELS, KD, KS, TOP_K, batch, build, model_cfg


@pytest.fixture(autouse=True, scope='module')
def mmaction_scope():
    # mmcv builds Conv2plus1d through the default scope, as the runner sets it.
    init_default_scope('mmaction')


def samples(n, view_names=None):
    out = []
    for _ in range(n):
        sample = ActionDataSample()
        if view_names is not None:
            sample.set_metainfo(dict(view_names=view_names))
        out.append(sample)
    return out


# ---------------------------------------------------------------------------- loss mode
def test_loss_mode_returns_the_four_losses_and_gradients_flow():
    model = build()
    model.train()
    losses = model(batch(), samples(4, ('clip', 'static', 'diff')), mode='loss')
    assert set(losses) == {'loss_aln', 'loss_fid', 'loss_div', 'loss_loc', 'aln_static',
                           'aln_dynamic', 'valid_static', 'valid_dynamic'}
    for name, value in losses.items():
        assert value.dim() == 0 and torch.isfinite(value), name
    assert losses['loss_loc'] > 0  # K=2 of 4 concepts: some pairs are valid
    sum(losses.values()).backward()

    grads = {name: p.grad for name, p in model.named_parameters()}
    for name in ('backbone.conv1.conv.conv_s.weight', 'backbone.layer4.1.conv2.conv.conv_t.weight',
                 'align_head.static_prototypes', 'align_head.dynamic_prototypes',
                 'align_head.clip_prototypes', 'local_head.projections.query.weight',
                 'local_head.projections.key.weight'):
        assert grads[name] is not None, name
        assert grads[name].abs().sum() > 0, name


def test_zero_local_weight_keeps_local_head_in_the_graph():
    """The warm-up multiplies L_loc by 0: the local head gets zero, not missing, grads."""
    model = build()
    model.local_head.loss_weight = 0.0
    losses = model(batch(), None, mode='loss')
    assert losses['loss_loc'] == 0
    sum(losses.values()).backward()
    grad = model.local_head.projections.query.weight.grad
    assert grad is not None and torch.all(grad == 0)


def test_train_step_with_optimizer_changes_the_weights():
    from mmengine.optim import OptimWrapper
    model = build()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = model.backbone.conv1.conv.conv_s.weight.detach().clone()
    log_vars = model.train_step(dict(inputs=batch(), data_samples=samples(4)), optim)
    assert {'loss', 'loss_aln', 'loss_fid', 'loss_div', 'loss_loc'} <= set(log_vars)
    assert not torch.equal(before, model.backbone.conv1.conv.conv_s.weight)


def test_loss_needs_all_views():
    model = build()
    with pytest.raises(ValueError, match="lacks \\['diff'\\]"):
        model(batch(views=2), samples(4, ('clip', 'static')), mode='loss')
    with pytest.raises(ValueError, match='3 views on axis 1|2 views on axis 1'):
        model(batch(views=2), None, mode='loss')
    with pytest.raises(ValueError, match='lacks'):
        model(batch(views=1)[:, 0], None, mode='loss')


def test_invalid_mode():
    with pytest.raises(RuntimeError, match='Invalid mode'):
        build()(batch(), None, mode='embed')


# ---------------------------------------------------------------------------- tensor mode
def test_tensor_mode_names_and_shapes():
    model = build().eval()
    with torch.no_grad():
        out = model(batch(n=2), None, mode='tensor')
    n, k = 2, KS + KD
    expected = {
        'v': (n, CHANNELS), 's': (n, CHANNELS), 'd': (n, CHANNELS),
        'q_v': (n, k), 'q_s': (n, KS), 'q_d': (n, KD), 'q_v_s': (n, KS), 'q_v_d': (n, KD),
        'p_v_s': (n, KS), 'p_v_d': (n, KD),
        'F_v': (n, k, CHANNELS), 'F_s': (n, KS, CHANNELS), 'F_d': (n, KD, CHANNELS),
        'F_v_s': (n, KS, CHANNELS), 'F_v_d': (n, KD, CHANNELS),
        # 8 x 64 x 64 -> T' H' W' = 1 x 2 x 2
        'attn_v': (n, k, 1, 2, 2), 'attn_s': (n, KS, 1, 2, 2), 'attn_d': (n, KD, 1, 2, 2),
    }
    assert {name: tuple(v.shape) for name, v in out.items()} == expected
    assert torch.equal(out['q_v_s'], out['q_v'][:, :KS])
    assert torch.equal(out['q_v_d'], out['q_v'][:, KS:])
    assert torch.equal(out['F_v_d'], out['F_v'][:, KS:])
    # Eq. 4's predictions of each half, with the head's temperature, normalised per half
    tau = model.align_head.temperature
    for half, codes in (('s', out['q_v_s']), ('d', out['q_v_d'])):
        expected_p = torch.exp(codes / tau) / torch.exp(codes / tau).sum(1, keepdim=True)
        assert torch.allclose(out[f'p_v_{half}'], expected_p, atol=1e-6)
    # attention over the T' H' W' locations sums to one for every concept
    sums = out['attn_v'].flatten(2).sum(-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)


def test_clip_only_inputs_agree():
    model = build().eval()
    x = batch(n=2)
    with torch.no_grad():
        full = model(x, None, mode='tensor')
        clip5 = model(x[:, 0], None, mode='tensor')
        clip6 = model(x[:, :1], None, mode='tensor')
    assert set(clip5) == {'v', 'q_v', 'q_v_s', 'q_v_d', 'p_v_s', 'p_v_d', 'F_v', 'F_v_s',
                          'F_v_d', 'attn_v'}
    for name in clip5:
        assert torch.allclose(clip5[name], clip6[name]), name
        # eval-mode BN: the clip's features do not depend on the other views
        assert torch.allclose(clip5[name], full[name], atol=1e-5), name


def test_features_of_views_derived_from_the_clip():
    """derive_views adds s and d (from the data preprocessor) to a clip-only batch: each
    goes through the backbone and its own projection and prototypes, and the clip's
    outputs do not change."""
    model = build(data_preprocessor=dict(type='ConceptDataPreprocessor', diff_std=8.0))
    model.eval()
    clip = batch(n=2)[:, 0]
    with torch.no_grad():
        plain = model.features(clip)
        out = model.features(clip, derive_views=True)
        views = model.data_preprocessor.views_from_clip(clip)
        d_alone = model.features(views['diff'])['v']  # a 7-frame clip through the backbone
        s_alone = model.features(views['static'])['v']
        codes = model.align_head(dict(static=s_alone, diff=d_alone))
    for name, value in plain.items():
        assert torch.allclose(out[name], value, atol=1e-5), name
    assert torch.allclose(out['d'], d_alone, atol=1e-5)
    assert torch.allclose(out['s'], s_alone, atol=1e-5)
    assert torch.allclose(out['q_d'], codes['diff'], atol=1e-5)
    assert torch.allclose(out['q_s'], codes['static'], atol=1e-5)
    assert out['q_d'].shape == (2, KD) and out['F_d'].shape == (2, KD, CHANNELS)
    assert not torch.allclose(out['d'], out['v'], atol=1e-3)
    # a preprocessor that cannot derive the views is named
    with pytest.raises(TypeError, match='BaseDataPreprocessor cannot derive'):
        build().eval().features(clip, derive_views=True)


def test_view_order_comes_from_the_data_samples():
    model = build().eval()
    x = batch(n=2)
    order = ('diff', 'clip', 'static')
    permuted = x[:, [2, 0, 1]]
    with torch.no_grad():
        ref = model(x, samples(2, ('clip', 'static', 'diff')), mode='tensor')
        out = model(permuted, samples(2, list(order)), mode='tensor')
    for name in ('v', 's', 'd', 'q_v', 'F_s'):
        assert torch.allclose(ref[name], out[name], atol=1e-5), name


def test_mmaction_packed_clips_are_averaged():
    """(N, num_clips, C, T, H, W) from PackActionInputs (no view_names) -> clip average."""
    model = build().eval()
    x = batch(n=2, views=3)
    with torch.no_grad():
        out = model(x, samples(2), mode='tensor')
        per_clip = [model(x[:, i], None, mode='tensor') for i in range(3)]
    assert set(out) == set(per_clip[0])
    for name in out:
        mean = torch.stack([p[name] for p in per_clip]).mean(0)
        assert torch.allclose(out[name], mean, atol=1e-5), name


def test_bad_view_names_in_data_samples():
    model = build()
    with pytest.raises(ValueError, match="'flow'"):
        model(batch(n=2), samples(2, ('clip', 'static', 'flow')), mode='tensor')
    mixed = samples(1, ('clip', 'static', 'diff')) + samples(1, ('clip', 'diff', 'static'))
    with pytest.raises(ValueError, match='different view_names'):
        model(batch(n=2), mixed, mode='tensor')
    with pytest.raises(ValueError, match='name 2'):
        model(batch(n=2), samples(2, ('clip', 'static')), mode='tensor')
    with pytest.raises(ValueError, match=r'\(N, V, C, T, H, W\)'):
        model(torch.randn(2, 3, 64, 64), None, mode='tensor')


# ---------------------------------------------------------------------------- predict mode
def test_predict_mode_stores_features_on_the_samples():
    model = build().eval()
    x = batch(n=2)
    with torch.no_grad():
        ref = model(x, None, mode='tensor')
        data_samples = samples(2, ('clip', 'static', 'diff'))
        for i, s in enumerate(data_samples):
            s.set_gt_label(i)
        preds = model(x, data_samples, mode='predict')
        fresh = model(x[:, 0], None, mode='predict')
    assert preds is data_samples
    for i, sample in enumerate(preds):
        assert sample.gt_label.item() == i
        for name, value in ref.items():
            assert torch.allclose(sample.get(name), value[i], atol=1e-6), name
    assert len(fresh) == 2 and isinstance(fresh[0], ActionDataSample)
    assert fresh[0].q_v_s.shape == (KS, ) and fresh[0].attn_v.shape == (KS + KD, 1, 2, 2)


def test_steps_with_the_concept_data_preprocessor():
    """Per-sample tensors as the DataLoader gives them, through ConceptDataPreprocessor."""
    from mmengine.optim import OptimWrapper
    model = build(data_preprocessor=dict(type='ConceptDataPreprocessor'))
    views = ('clip', 'static', 'diff')
    x = batch(n=2).mul(60).add(120)
    data = dict(inputs=list(x), data_samples=samples(2, views))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = model.train_step(data, optim)
    assert torch.isfinite(log_vars['loss'])

    model.eval()
    preds = model.val_step(dict(inputs=list(x), data_samples=samples(2, views)))
    assert preds[0].q_s.shape == (KS, ) and preds[0].F_d.shape == (KD, CHANNELS)
    # clips packed by PackActionInputs (no view names): 3 clips per video, averaged
    clips = model.test_step(dict(inputs=list(x), data_samples=samples(2)))
    assert clips[0].v.shape == (CHANNELS, ) and 's' not in clips[0]
    # a clip-only batch (N, C, T, H, W)
    single = model.test_step(dict(inputs=list(x[:, 0]), data_samples=samples(2)))
    assert single[0].attn_v.shape == (KS + KD, 1, 2, 2)


def test_default_data_preprocessor_is_the_concept_one():
    cfg = model_cfg()
    del cfg['data_preprocessor']
    model = MODELS.build(cfg)
    assert type(model.data_preprocessor).__name__ == 'ConceptDataPreprocessor'


# ---------------------------------------------------------------------------- backbones
def test_stack_views_batchnorm_semantics():
    """Stacked: BN statistics over all views; per view: over each view alone."""
    x = batch(n=4)
    views = dict(clip=x[:, 0], static=x[:, 1], diff=x[:, 2])
    stacked = build()
    per_view = build(stack_views=False)
    per_view.load_state_dict(stacked.state_dict())
    stacked.train()
    per_view.train()
    assert stacked.stack_views and not per_view.stack_views

    alone = copy.deepcopy(per_view.backbone)(views['clip']).mean(dim=(2, 3, 4))
    pooled_per_view, _ = per_view.extract_feat(views)
    pooled_stacked, _ = stacked.extract_feat(views)
    assert torch.allclose(pooled_per_view['clip'], alone, atol=1e-5)
    assert not torch.allclose(pooled_stacked['clip'], alone, atol=1e-3)

    # the train-mode passes above updated the running statistics differently
    per_view.load_state_dict(stacked.state_dict())
    stacked.eval()
    per_view.eval()
    with torch.no_grad():
        a, _ = stacked.extract_feat(views)
        b, _ = per_view.extract_feat(views)
    for view in views:
        assert torch.allclose(a[view], b[view], atol=1e-5), view


def test_separate_backbones():
    model = build(shared_backbone=False)
    assert not model.stack_views
    assert set(model.view_backbones) == {'static', 'diff'}
    assert model.view_backbones['static'] is not model.backbone
    losses = model(batch(), None, mode='loss')
    sum(losses.values()).backward()
    for name in ('backbone', 'view_backbones.static', 'view_backbones.diff'):
        module = model.get_submodule(name)
        assert module.conv1.conv.conv_s.weight.grad.abs().sum() > 0, name
    model.eval()
    with torch.no_grad():
        assert model(batch(n=2)[:, 0], None, mode='tensor')['v'].shape == (2, CHANNELS)


@MODELS.register_module()
class _TupleBackbone(nn.Module):
    """Stand-in: returns (early map, last map), like multi-output backbones."""

    def __init__(self, out_rank=5):
        super().__init__()
        self.conv = nn.Conv3d(3, CHANNELS, 3, stride=(2, 8, 8), padding=1)
        self.out_rank = out_rank

    def forward(self, x):
        last = self.conv(x)
        if self.out_rank == 4:
            return last.mean(2)
        return x, last


def test_tuple_backbone_output_takes_the_last_item():
    model = build(backbone=dict(type='_TupleBackbone'))
    out = model(batch(n=2), None, mode='tensor')
    assert out['v'].shape == (2, CHANNELS)
    assert out['attn_v'].shape[2:] == (4, 8, 8)


def test_wrong_rank_feature_map_is_named():
    model = build(backbone=dict(type='_TupleBackbone', out_rank=4))
    with pytest.raises(ValueError, match=r"_TupleBackbone returned \(6, 64, 8, 8\).*"
                                         r"\(N, C, T', H', W'\)"):
        model(batch(n=2), None, mode='tensor')


def test_without_local_head():
    model = build(local_head=None)
    losses = model(batch(), None, mode='loss')
    assert set(losses) == {'loss_aln', 'loss_fid', 'loss_div', 'aln_static', 'aln_dynamic'}
    model.eval()
    out = model(batch(n=2), None, mode='tensor')
    assert not any(name.startswith(('F_', 'attn_')) for name in out)


# ---------------------------------------------------------------------------- build checks
def local_head(**kwargs):
    cfg = dict(type='LocalConceptContrastHead', in_channels=CHANNELS, num_static_concepts=KS,
               num_dynamic_concepts=KD, top_k=TOP_K)
    cfg.update(kwargs)
    return cfg


@pytest.mark.parametrize('overrides,error,match', [
    (dict(local_head=local_head(num_static_concepts=KS + 1)), ValueError,
     'local_head.num_static_concepts=7 but align_head.num_static_concepts=6'),
    (dict(local_head=local_head(num_dynamic_concepts=KD + 2)), ValueError,
     'num_dynamic_concepts'),
    (dict(local_head=local_head(in_channels=32)), ValueError, 'local_head.in_channels=32'),
    (dict(align_head=dict(type='ConceptAlignHead', in_channels=128, num_static_concepts=KS,
                          num_dynamic_concepts=KD)), ValueError,
     'feat_dim=64.*align_head.in_channels=128'),
    (dict(local_head=local_head(top_k=KD + 1)), ValueError, 'top_k'),
    (dict(local_head=local_head(prototype_channels=32)), ValueError, 'prototype_channels'),
    (dict(view_names=('clip', 'static', 'flow')), ValueError, "'flow'"),
    (dict(view_names=('clip', 'clip')), ValueError, 'repeats'),
    (dict(view_names=('static', 'diff')), ValueError, "lacks 'clip'"),
    (dict(view_names='clip'), TypeError, 'view_names'),
    (dict(shared_backbone=False, stack_views=True), ValueError, 'stack_views=True'),
])
def test_build_time_errors(overrides, error, match):
    with pytest.raises(error, match=match):
        MODELS.build(model_cfg(**overrides))
