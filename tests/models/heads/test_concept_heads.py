"""ConceptAlignHead and LocalConceptContrastHead: interface, weighting, gradients, queue and
config errors."""
import pytest
import torch
from mmaction.registry import MODELS

from sdc_mmaction.models.losses import (concept_alignment_loss,
                                        concept_codes, diversity_loss, fidelity_loss,
                                        local_concept_loss, valid_concept_mask)

torch.set_num_threads(1)
VIEWS = ('clip', 'static', 'diff')
C, KS, KD, N = 16, 6, 4, 5


def build_align(**kwargs):
    cfg = dict(type='ConceptAlignHead', in_channels=C, num_static_concepts=KS,
               num_dynamic_concepts=KD)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def build_local(**kwargs):
    cfg = dict(type='LocalConceptContrastHead', in_channels=C, num_static_concepts=KS,
               num_dynamic_concepts=KD, top_k=3, embed_channels=8)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def pooled_features(n=N, seed=0, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    return {v: torch.randn(n, C, generator=gen).requires_grad_(requires_grad) for v in VIEWS}


def feature_maps(n=N, seed=1, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    return {
        v: torch.randn(n, C, 2, 3, 3, generator=gen).requires_grad_(requires_grad)
        for v in VIEWS
    }


# ----------------------------------------------------------------- ConceptAlignHead
def test_align_head_forward_shapes_and_subset_of_views():
    torch.manual_seed(0)
    head = build_align()
    codes = head(pooled_features())
    assert {k: tuple(v.shape) for k, v in codes.items()} == dict(
        clip=(N, KS + KD), static=(N, KS), diff=(N, KD))
    for code in codes.values():
        assert code.abs().max() <= 1 + 1e-6
    protos = head.prototypes
    assert {k: tuple(v.shape) for k, v in protos.items()} == dict(
        clip=(KS + KD, C), static=(KS, C), diff=(KD, C))
    # identity sigma: the codes are the cosines of the pooled features with the prototypes
    pooled = pooled_features()
    torch.testing.assert_close(codes['static'], concept_codes(pooled['static'],
                                                              protos['static']))
    only_clip = head(dict(clip=pooled['clip']))
    assert set(only_clip) == {'clip'}
    torch.testing.assert_close(only_clip['clip'], codes['clip'])


def test_align_head_loss_is_weighted_sum_of_the_equations():
    torch.manual_seed(0)
    head = build_align(fidelity_weight=0.5, diversity_weight=0.02, temperature=0.2,
                       sinkhorn_iterations=4)
    pooled = pooled_features()
    codes = head(pooled)
    losses = head.loss(pooled, codes)
    assert set(losses) == {'loss_aln', 'loss_fid', 'loss_div', 'aln_static', 'aln_dynamic'}
    aln = concept_alignment_loss(codes['static'], codes['diff'], codes['clip'],
                                 temperature=0.2, num_iters=4)
    halves = concept_alignment_loss(codes['static'], codes['diff'], codes['clip'],
                                    temperature=0.2, num_iters=4, return_parts=True)
    torch.testing.assert_close(losses['aln_static'], halves[0])
    torch.testing.assert_close(losses['aln_dynamic'], halves[1])
    assert not losses['aln_static'].requires_grad  # logged only, never optimised twice
    fid = fidelity_loss([head.decoders[v](codes[v]) for v in VIEWS], [pooled[v] for v in VIEWS])
    div = diversity_loss([codes[v] for v in VIEWS])
    torch.testing.assert_close(losses['loss_aln'], aln)
    torch.testing.assert_close(losses['loss_fid'], 0.5 * fid)
    torch.testing.assert_close(losses['loss_div'], 0.02 * div)


def test_align_head_gradients_reach_its_parameters_and_features():
    torch.manual_seed(0)
    head = build_align(projection=dict(hidden_channels=12, out_channels=10))
    assert head.prototypes['clip'].shape == (KS + KD, 10)
    pooled = pooled_features(requires_grad=True)
    sum(head.loss(pooled, head(pooled)).values()).backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    for view in VIEWS:
        assert pooled[view].grad.abs().sum() > 0, view


def test_align_head_config_errors_name_the_option():
    with pytest.raises(ValueError, match='num_static_concepts'):
        build_align(num_static_concepts=0)
    with pytest.raises(ValueError, match='num_dynamic_concepts'):
        build_align(num_dynamic_concepts=-3)
    with pytest.raises(ValueError, match='temperature'):
        build_align(temperature=0)
    with pytest.raises(ValueError, match='queue_length'):
        build_align(queue_length=-1)
    with pytest.raises(ValueError, match='projection'):
        build_align(projection=dict(hidden=3))
    head = build_align()
    with pytest.raises(ValueError, match=r"pooled\['static'\].*in_channels"):
        head(dict(static=torch.randn(N, C + 1)))
    with pytest.raises(KeyError, match='rgb'):
        head(dict(rgb=torch.randn(N, C)))
    with pytest.raises(KeyError, match='all views'):
        pooled = pooled_features()
        head.loss(dict(clip=pooled['clip']), head(pooled))


def test_align_head_score_queue():
    torch.manual_seed(0)
    head = build_align(queue_length=8, queue_start_epoch=1)
    first, second = pooled_features(n=4, seed=2), pooled_features(n=4, seed=3)
    codes = head(first)
    # epoch 0 < queue_start_epoch: no queue, nothing stored
    head.loss(first, codes)
    assert not head.queue_active and head.queue_filled == 0
    head.set_epoch(1)
    assert head.queue_active
    # empty queue: same as without a queue; the batch is then pushed in
    loss_first = head.loss(first, codes)['loss_aln']
    torch.testing.assert_close(
        loss_first, concept_alignment_loss(codes['static'], codes['diff'], codes['clip']))
    assert head.queue_filled == 4
    codes2 = head(second)
    loss_second = head.loss(second, codes2)['loss_aln']
    queues = {v: codes[v].detach() for v in VIEWS}
    torch.testing.assert_close(
        loss_second,
        concept_alignment_loss(codes2['static'], codes2['diff'], codes2['clip'],
                               queues=queues))
    assert not torch.allclose(
        loss_second, concept_alignment_loss(codes2['static'], codes2['diff'], codes2['clip']))
    assert head.queue_filled == 8
    state = head.queue_state()
    torch.testing.assert_close(state['scores']['static'],
                               torch.cat([codes['static'], codes2['static']]).detach())
    # a third batch drops the oldest rows
    codes3 = head(first)
    head.loss(first, codes3)
    torch.testing.assert_close(head.queue_state()['scores']['diff'],
                               torch.cat([codes2['diff'], codes3['diff']]).detach())
    # save / restore round trip, and shape checks naming the option
    other = build_align(queue_length=8)
    other.load_queue_state(state)
    assert other.queue_filled == 8
    torch.testing.assert_close(other.queue_state()['scores']['clip'], state['scores']['clip'])
    with pytest.raises(ValueError, match='queue_length'):
        build_align(queue_length=6).load_queue_state(state)
    other.reset_queue()
    assert other.queue_filled == 0 and other.queue_state()['scores'] is None
    # the queue is not a buffer (DDP would broadcast rank 0's copy over the others)
    assert not any('queue' in name for name, _ in head.named_buffers())


# ----------------------------------------------------------------- LocalConceptContrastHead
def test_local_head_forward_shapes():
    torch.manual_seed(0)
    align, local = build_align(), build_local()
    out = local(feature_maps(), align.prototypes)
    assert {k: tuple(v.shape) for k, v in out['features'].items()} == dict(
        clip=(N, KS + KD, 8), static=(N, KS, 8), diff=(N, KD, 8))
    assert {k: tuple(v.shape) for k, v in out['attention'].items()} == dict(
        clip=(N, KS + KD, 18), static=(N, KS, 18), diff=(N, KD, 18))
    torch.testing.assert_close(out['attention']['clip'].sum(-1), torch.ones(N, KS + KD))
    only_clip = local(dict(clip=feature_maps()['clip']), align.prototypes)
    torch.testing.assert_close(only_clip['features']['clip'], out['features']['clip'])


def test_local_head_loss_matches_functions_and_weight():
    torch.manual_seed(0)
    align, local = build_align(), build_local(loss_weight=0.7, margin=1.2)
    pooled = pooled_features()
    codes = align(pooled)
    out = local(feature_maps(), align.prototypes)
    f = out['features']
    valid_s = valid_concept_mask(codes['static'], codes['clip'][:, :KS], 3)
    valid_d = valid_concept_mask(codes['diff'], codes['clip'][:, KS:], 3)
    expected = local_concept_loss(f['static'], f['clip'][:, :KS], valid_s, f['diff'],
                                  f['clip'][:, KS:], valid_d, margin=1.2)
    losses = local.loss(out, codes)
    torch.testing.assert_close(losses['loss_loc'], 0.7 * expected)
    assert expected.item() > 0
    # logged beside the loss: valid concepts per sample, counted by a plain loop
    for half, valid_codes in (('static', (codes['static'], codes['clip'][:, :KS])),
                              ('dynamic', (codes['diff'], codes['clip'][:, KS:]))):
        counts = [len(set(a.topk(3).indices.tolist()) & set(b.topk(3).indices.tolist()))
                  for a, b in zip(*valid_codes)]
        assert losses[f'valid_{half}'].item() == pytest.approx(sum(counts) / len(counts))
        assert not losses[f'valid_{half}'].requires_grad


def test_local_head_logs_zero_valid_concepts_when_the_top_codes_do_not_meet():
    align, local = build_align(), build_local()
    codes = align(pooled_features())
    n = codes['clip'].shape[0]
    # the static frame's top-3 static codes are concepts 0-2, the clip's are the last 3
    codes['static'] = torch.arange(KS, 0, -1, dtype=torch.float).repeat(n, 1)
    codes['clip'] = codes['clip'].clone()
    codes['clip'][:, :KS] = torch.arange(KS, dtype=torch.float).repeat(n, 1)
    losses = local.loss(local(feature_maps(), align.prototypes), codes)
    assert losses['valid_static'].item() == 0
    assert losses['valid_dynamic'].item() > 0  # two top-3 sets of 4 concepts always meet


@pytest.mark.parametrize('share', [True, False])
def test_local_head_gradients_and_zero_weight(share):
    torch.manual_seed(0)
    align, local = build_align(), build_local(share_projections=share)
    maps = feature_maps(requires_grad=True)
    codes = align(pooled_features())
    loss = local.loss(local(maps, align.prototypes), codes)['loss_loc']
    loss.backward()
    for name, param in local.named_parameters():
        assert param.grad is not None, name
    assert all(p.grad.abs().sum() > 0 for p in align.prototypes.values())
    assert all(maps[v].grad.abs().sum() > 0 for v in VIEWS)

    # warm-up: weight 0 gives an exact zero that still reaches every parameter (DDP)
    local.zero_grad()
    local.loss_weight = 0.0
    loss = local.loss(local(maps, align.prototypes), codes)['loss_loc']
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    for name, param in local.named_parameters():
        assert param.grad is not None and torch.equal(param.grad,
                                                      torch.zeros_like(param)), name


def test_local_head_can_leave_the_prototypes_to_the_codes():
    torch.manual_seed(0)
    align = build_align()
    maps = feature_maps(requires_grad=True)
    with torch.no_grad():
        codes = align(pooled_features())
    results = {}
    for detach in (False, True):
        torch.manual_seed(0)
        local = build_local(detach_prototypes=detach)
        align.zero_grad()
        out = local(maps, align.prototypes)
        local.loss(out, codes)['loss_loc'].backward()
        results[detach] = out['features']['clip'].detach()
        reached = [p.grad is not None and p.grad.abs().sum() > 0
                   for p in align.prototypes.values()]
        assert all(reached) if not detach else not any(reached)
        assert local.projections.query.weight.grad.abs().sum() > 0  # still trained
        assert all(maps[v].grad.abs().sum() > 0 for v in VIEWS)
    # the same forward either way: only the gradient changes
    torch.testing.assert_close(results[False], results[True])
    with pytest.raises(ValueError, match='detach_prototypes'):
        build_local(detach_prototypes=1)


def test_local_head_margin_zero_leaves_the_pull_alone():
    """lambda = 0 is the ablation without the hinge: the loss is
    Eq. 10 at margin 0, below the loss with the hinge; negative margins are refused."""
    torch.manual_seed(0)
    align = build_align()
    pooled, maps = pooled_features(), feature_maps()
    codes = align(pooled)
    losses = {}
    for margin in (0, 1.2):
        torch.manual_seed(1)  # the same weights for both margins, so the same features
        local = build_local(margin=margin)
        out = local(maps, align.prototypes)
        losses[margin] = local.loss(out, codes)['loss_loc']
    f = out['features']
    valid_s = valid_concept_mask(codes['static'], codes['clip'][:, :KS], 3)
    valid_d = valid_concept_mask(codes['diff'], codes['clip'][:, KS:], 3)
    pull = local_concept_loss(f['static'], f['clip'][:, :KS], valid_s, f['diff'],
                              f['clip'][:, KS:], valid_d, margin=0.0)
    torch.testing.assert_close(losses[0], pull)
    assert 0 < losses[0].item() < losses[1.2].item()
    for bad in (-0.1, True, 'x'):
        with pytest.raises(ValueError, match='margin'):
            build_local(margin=bad)


def test_local_head_errors_name_the_input():
    with pytest.raises(ValueError, match='top_k'):
        build_local(top_k=KD + 1)
    with pytest.raises(ValueError, match='in_channels'):
        build_local(in_channels=0)
    align, local = build_align(), build_local()
    maps = feature_maps()
    with pytest.raises(ValueError, match=r"feature_maps\['static'\].*5-D"):
        local(dict(static=maps['static'].flatten(2)), align.prototypes)
    with pytest.raises(ValueError, match=r"feature_maps\['clip'\]"):
        local(dict(clip=torch.randn(N, C + 2, 2, 3, 3)), align.prototypes)
    with pytest.raises(ValueError, match=r"prototypes\['diff'\]"):
        local(dict(diff=maps['diff']), dict(diff=torch.randn(KD + 1, C)))
    with pytest.raises(KeyError, match='lack views'):
        out = local(dict(clip=maps['clip']), align.prototypes)
        local.loss(out, align(pooled_features()))
