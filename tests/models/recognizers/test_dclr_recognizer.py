"""The DCLR model: losses and gradients of one step, the momentum key encoder, the queues
(global-batch writes, wrap-around of the pointer, positives only among filled rows,
state-dict round trip) and the errors for a queue the global batch does not divide."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import MODELS
from sdc_mmaction.models.losses import multi_positive_info_nce

N, T, S = 2, 4, 32
LOSSES = ['loss_act', 'loss_dv', 'loss_sv', 'loss_vd', 'loss_vs', 'loss_vv']


def tiny_cfg(**overrides):
    cfg = dict(
        type='DCLR',
        backbone=dict(type='ResNet2Plus1d', depth=18, base_channels=4, pretrained=None,
                      pretrained2d=False, norm_eval=False,
                      conv_cfg=dict(type='Conv2plus1d'),
                      norm_cfg=dict(type='BN3d', requires_grad=True), conv1_kernel=(3, 7, 7),
                      conv1_stride_t=1, pool1_stride_t=1, inflate=(1, 1, 1, 1),
                      spatial_strides=(1, 2, 2, 2), temporal_strides=(1, 2, 2, 2)),
        head=dict(type='DCLRProjectionHead', in_channels=32, hidden_channels=16,
                  out_channels=8),
        queue_length=6, momentum=0.25, top_k=2)
    cfg.update(overrides)
    return cfg


def build(**overrides):
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(**overrides))
    model.init_weights()
    return model.train()


def batch(seed=0, n=N):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, 3, T, S, S, generator=gen)


def test_one_step_gives_every_loss_and_gradients_to_the_query_encoder_only():
    model = build()
    losses = model.loss(batch())
    assert sorted(k for k in losses if k.startswith('loss')) == LOSSES
    assert all(torch.isfinite(losses[k]) and losses[k] > 0 for k in LOSSES)
    sum(losses[k] for k in LOSSES).backward()
    assert all(p.grad is not None for p in model.backbone.parameters())
    for name in ('vv', 'vs', 'vd', 'sv', 'dv'):
        assert all(p.grad is not None and p.grad.abs().sum() > 0
                   for p in model.heads[name].parameters()), name
    assert all(not p.requires_grad and p.grad is None
               for p in model.key_encoder.parameters())


def test_key_encoder_starts_as_the_query_encoder_then_moves_by_momentum():
    model = build()
    model.loss(batch())  # the first update copies the query encoder
    for (name, q), k in zip(model._query_encoder().named_parameters(),
                            model.key_encoder.module.parameters()):
        assert torch.equal(q, k), name
    key_before = [p.clone() for p in model.key_encoder.module.parameters()]
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(0.1)
    query_now = [p.clone() for p in model._query_encoder().parameters()]
    model.loss(batch(1))
    for before, query, after in zip(key_before, query_now,
                                    model.key_encoder.module.parameters()):
        torch.testing.assert_close(after, 0.75 * before + 0.25 * query)


def test_queue_takes_the_keys_and_positives_come_only_from_filled_rows():
    model = build()
    initial = model.queue_vv.clone()
    losses = model.loss(batch())
    # nothing was filled before the first step: no cross-video positives
    assert losses['num_positives'] == 0 and losses['queue_filled'] == 0
    assert int(model.queue_ptr) == N and int(model.queue_filled) == N
    assert torch.equal(model.queue_vv[N:], initial[N:])
    # the rows written are unit key embeddings of the second clip's views
    assert torch.allclose(model.queue_vv[:N].norm(dim=1), torch.ones(N))
    losses = model.loss(batch(1))
    assert losses['num_positives'] == 2  # top_k = 2 of the 2 filled rows
    model.loss(batch(2))
    model.loss(batch(3))  # 4 batches of 2 in a queue of 6: the pointer wraps
    assert int(model.queue_ptr) == (4 * N) % 6 and int(model.queue_filled) == 6


def top_k_rows(affinity, filled, k=2):
    mask = torch.zeros_like(affinity, dtype=torch.bool)
    for i in range(affinity.shape[0]):
        order = [j for j in affinity[i].argsort(descending=True).tolist() if j < filled]
        for j in order[:k]:
            mask[i, j] = True
    return mask


def test_each_loss_is_the_multi_positive_nce_of_the_pairs_in_the_notes():
    """Recompute all five losses from the definitions (BASELINES_NOTES section 1), with
    the model's encoders and the queues as they were before the step: h_vs / h_vd pool
    the query's F_v under the key encoder's Â_s / Â_d of the same clip; L_vs, L_sv use
    the static positives, L_vd, L_dv the dynamic ones, L_vv their sum."""
    model = build()
    model.loss(batch())
    model.loss(batch(1))  # two filled rows, so positives exist
    queues = {name: model.queue(name).clone() for name in ('vv', 'vs', 'vd', 'sv', 'dv')}
    filled = int(model.queue_filled)
    state = copy.deepcopy(model.state_dict())
    inputs = batch(2)
    losses = model.loss(inputs)

    reference = build()
    reference.load_state_dict(state)
    reference.key_encoder.update_parameters(reference._query_encoder())
    key = reference.key_encoder.module
    v, s, d, v2, s2, d2 = (inputs[:, i] for i in range(6))

    def maps(backbone, *clips):
        out = backbone(torch.cat(clips))
        return out.split(N)

    def a_hat(fmap):
        a = fmap.sum(dim=1)
        return a / a.mean(dim=(1, 2, 3), keepdim=True)

    def pool(fmap, weight=None):
        return (fmap if weight is None else fmap * weight.unsqueeze(1)).mean(dim=(2, 3, 4))

    with torch.no_grad():
        kq_v, kq_s, kq_d = maps(key['backbone'], v, s, d)
        kk_v, kk_s, kk_d = maps(key['backbone'], v2, s2, d2)
        k = dict(vv=key['heads']['vv'](pool(kk_v)),
                 vs=key['heads']['vs'](pool(kk_v, a_hat(kk_s))),
                 vd=key['heads']['vd'](pool(kk_v, a_hat(kk_d))),
                 sv=key['heads']['sv'](pool(kk_s)), dv=key['heads']['dv'](pool(kk_d)))
        r_s = key['heads']['sv'](pool(kq_s))
        r_d = key['heads']['dv'](pool(kq_d))
    f_v, f_s, f_d = maps(reference.backbone, v, s, d)
    heads = reference.heads
    q = dict(vv=heads['vv'](pool(f_v)), vs=heads['vs'](pool(f_v, a_hat(kq_s))),
             vd=heads['vd'](pool(f_v, a_hat(kq_d))), sv=heads['sv'](pool(f_s)),
             dv=heads['dv'](pool(f_d)))
    p_s = torch.softmax(r_s @ queues['sv'].t(), dim=1)
    p_d = torch.softmax(r_d @ queues['dv'].t(), dim=1)
    positives = dict(static=top_k_rows(p_s, filled), dynamic=top_k_rows(p_d, filled),
                     both=top_k_rows(p_s + p_d, filled))
    pairs = dict(vv=('vv', 'vv', 'both'), vs=('vs', 'sv', 'static'),
                 sv=('sv', 'vs', 'static'), vd=('vd', 'dv', 'dynamic'),
                 dv=('dv', 'vd', 'dynamic'))
    for name, (query_head, key_head, kind) in pairs.items():
        expected = multi_positive_info_nce(q[query_head], k[key_head], queues[key_head],
                                           positives[kind], 0.07)
        torch.testing.assert_close(losses[f'loss_{name}'], expected, msg=name)
    activation = ((f_v.sum(1) - f_s.sum(1) - f_d.sum(1)) ** 2).mean()
    torch.testing.assert_close(losses['loss_act'], 0.1 * activation)


def test_queues_and_key_encoder_are_in_the_state_dict():
    model = build()
    model.loss(batch())
    state = model.state_dict()
    for name in ('vv', 'vs', 'vd', 'sv', 'dv'):
        assert f'queue_{name}' in state
    assert 'queue_ptr' in state and 'queue_filled' in state
    assert any(k.startswith('key_encoder.module.backbone.') for k in state)
    fresh = build()
    fresh.load_state_dict(state)
    assert torch.equal(fresh.queue_dv, model.queue_dv) and int(fresh.queue_ptr) == N


def test_features_and_predict_use_the_query_backbone():
    model = build().eval()
    clips = torch.randn(3, 2, 3, T, S, S)
    out = model(clips, mode='tensor')
    single = model(clips[:, 0], mode='tensor')['v']
    assert out['v'].shape == (3, 32) and single.shape == (3, 32)
    torch.testing.assert_close(out['v'], 0.5 * (single + model(clips[:, 1],
                                                               mode='tensor')['v']))
    samples = model(clips, mode='predict')
    assert torch.equal(samples[1].v, out['v'][1])


def test_derived_features_are_the_projections_of_the_clip_weighted_pools():
    """z_vs / z_vd: the query heads g_vs / g_vd over GAP(F_v ⊙ Â), Â from the key encoder
    on the static frame and the frame difference the data preprocessor derives."""
    model = build()
    model.loss(batch())  # the key encoder moves away from the query encoder
    model.eval()
    clips = torch.randn(3, 3, T, S, S)
    with torch.no_grad():
        out = model.features(clips, derive_views=True)
        derived = model.data_preprocessor.views_from_clip(clips)
        key = model.key_encoder.module['backbone']
        f_v = model.backbone(clips)

        def pool(view):
            a = key(view).sum(dim=1)
            a = a / a.mean(dim=(1, 2, 3), keepdim=True)
            return (f_v * a.unsqueeze(1)).mean(dim=(2, 3, 4))

        expected_s = model.heads['vs'](pool(derived['static']))
        expected_d = model.heads['vd'](pool(derived['diff']))
    assert sorted(out) == ['v', 'z_vd', 'z_vs']
    torch.testing.assert_close(out['z_vs'], expected_s)
    torch.testing.assert_close(out['z_vd'], expected_d)
    assert not torch.allclose(out['z_vs'], out['z_vd'])
    torch.testing.assert_close(out['v'], model.features(clips)['v'])
    assert sorted(model.features(clips)) == ['v']


def test_errors_name_the_setting():
    model = build(queue_length=5)
    with pytest.raises(ValueError, match='queue_length=5 is not a multiple of the global '
                       'batch 2'):
        model.loss(batch())
    with pytest.raises(ValueError, match='needs inputs \\(N, 6'):
        build().loss(torch.randn(N, 3, 3, T, S, S))
    with pytest.raises(ValueError, match='momentum'):
        build(momentum=0.999 + 1)
    with pytest.raises(ValueError, match='top_k'):
        build(top_k=7)
