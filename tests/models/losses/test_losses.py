"""Each loss term of SDC (Eq. 3-10) against a plain loop / numpy reference of the paper's
equation, plus gradient-flow, stability and empty-input checks."""
import math

import numpy as np
import pytest
import torch

from sdc_mmaction.models.losses import (concept_alignment_loss,
                                        concept_codes,
                                        concept_cross_attention, concept_margin_loss,
                                        concept_predictions,
                                        diversity_loss, fidelity_loss, local_concept_loss,
                                        sinkhorn_knopp, swapped_prediction_loss, top_k_mask,
                                        valid_concept_mask)

from loss_references import ref_cross_entropy, ref_sinkhorn

torch.set_num_threads(1)


def rand(*shape, seed=0, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen).requires_grad_(requires_grad)


def rand_codes(n, k, seed=0):
    """Cosine-like scores in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, k, generator=gen) * 2 - 1


# ----------------------------------------------------------------- references (numpy)
def ref_margin(anchor, other, valid, margin, normalize):
    """Eq. 9 with averaged negatives, divided by the number of valid pairs."""
    a, o = np.asarray(anchor, np.float64), np.asarray(other, np.float64)
    if normalize:
        a = a / np.linalg.norm(a, axis=-1, keepdims=True)
        o = o / np.linalg.norm(o, axis=-1, keepdims=True)
    n_samples, n_concepts, _ = a.shape
    total, count = 0.0, 0
    for n in range(n_samples):
        for k in range(n_concepts):
            if not valid[n, k]:
                continue
            count += 1
            term = float(np.sum((a[n, k] - o[n, k])**2))
            negatives = [max(margin - float(np.linalg.norm(a[n, k] - o[m, k])), 0.0)**2
                         for m in range(n_samples) if m != n]
            if negatives:
                term += sum(negatives) / len(negatives)
            total += term
    return total / max(count, 1)


# ----------------------------------------------------------------- Eq. 3
def test_concept_codes_match_loop_reference():
    feats, protos = rand(4, 7, seed=1), rand(5, 7, seed=2)
    codes = concept_codes(feats, protos)
    assert codes.shape == (4, 5)
    for n in range(4):
        for k in range(5):
            f, p = feats[n].numpy().astype(np.float64), protos[k].numpy().astype(np.float64)
            expected = p @ f / (np.linalg.norm(p) * np.linalg.norm(f))
            assert codes[n, k].item() == pytest.approx(expected, abs=1e-6)
    assert codes.abs().max() <= 1 + 1e-6


def test_concept_codes_gradients_and_zero_feature():
    feats, protos = rand(3, 6, seed=3, requires_grad=True), rand(4, 6, seed=4,
                                                                 requires_grad=True)
    concept_codes(feats, protos).sum().backward()
    assert feats.grad.abs().sum() > 0 and protos.grad.abs().sum() > 0
    zero_codes = concept_codes(torch.zeros(2, 6), protos)
    assert torch.equal(zero_codes, torch.zeros(2, 4))
    with pytest.raises(ValueError, match='channels'):
        concept_codes(rand(2, 6), rand(4, 5))


# ----------------------------------------------------------------- Sinkhorn
def test_sinkhorn_matches_swav_reference():
    scores = rand_codes(12, 5, seed=5)
    for iters in (1, 3, 10):
        ours = sinkhorn_knopp(scores, epsilon=0.05, num_iters=iters)
        np.testing.assert_allclose(ours.numpy(), ref_sinkhorn(scores.numpy(), 0.05, iters),
                                   rtol=1e-5, atol=1e-6)
    ours = sinkhorn_knopp(scores, epsilon=0.3, num_iters=3)
    np.testing.assert_allclose(ours.numpy(), ref_sinkhorn(scores.numpy(), 0.3, 3),
                               rtol=1e-5, atol=1e-6)


def test_sinkhorn_with_queue_solves_joint_problem_and_returns_batch_rows():
    scores, queue = rand_codes(4, 6, seed=6), rand_codes(20, 6, seed=7)
    ours = sinkhorn_knopp(scores, queue=queue)
    assert ours.shape == (4, 6)
    joint = ref_sinkhorn(torch.cat([queue, scores]).numpy())
    np.testing.assert_allclose(ours.numpy(), joint[-4:], rtol=1e-5, atol=1e-6)
    # the queue changes the answer (the test would notice a queue that is ignored)
    assert not torch.allclose(ours, sinkhorn_knopp(scores), atol=1e-3)
    with pytest.raises(ValueError, match='queue'):
        sinkhorn_knopp(scores, queue=rand_codes(3, 5))


def test_sinkhorn_marginals():
    scores = rand_codes(16, 8, seed=8)
    q = sinkhorn_knopp(scores, num_iters=3)
    torch.testing.assert_close(q.sum(1), torch.ones(16), rtol=0, atol=1e-5)
    q = sinkhorn_knopp(scores, num_iters=500)
    torch.testing.assert_close(q.sum(1), torch.ones(16), rtol=0, atol=1e-5)
    torch.testing.assert_close(q.sum(0), torch.full((8, ), 16 / 8), rtol=0, atol=1e-3)


def test_sinkhorn_stable_for_very_confident_scores():
    scores = rand_codes(16, 8, seed=9) * 1000
    # the plain (non log-space) algorithm breaks down here: that is what we guard against
    with np.errstate(all='ignore'):
        assert not np.isfinite(ref_sinkhorn(scores.numpy())).all()
    for iters in (3, 100):
        q = sinkhorn_knopp(scores, num_iters=iters)
        assert torch.isfinite(q).all()
        assert (q >= 0).all()
        torch.testing.assert_close(q.sum(1), torch.ones(16), rtol=0, atol=1e-5)
    half = sinkhorn_knopp(scores.half(), num_iters=3)
    assert half.dtype == torch.float16 and torch.isfinite(half).all()


def test_sinkhorn_has_no_gradient_and_validates():
    scores = rand_codes(6, 4, seed=10).requires_grad_()
    q = sinkhorn_knopp(scores)
    assert not q.requires_grad and q.grad_fn is None
    with pytest.raises(ValueError, match='num_iters'):
        sinkhorn_knopp(scores, num_iters=0)
    with pytest.raises(ValueError, match='epsilon'):
        sinkhorn_knopp(scores, epsilon=0)


# ----------------------------------------------------------------- Eq. 4
def test_swapped_prediction_loss_matches_reference():
    scores, targets = rand_codes(5, 7, seed=11), torch.softmax(rand(5, 7, seed=12), 1)
    ours = swapped_prediction_loss(scores, targets, temperature=0.1)
    assert ours.item() == pytest.approx(ref_cross_entropy(scores, targets, 0.1), rel=1e-5)


def test_concept_predictions_match_reference_and_ignore_a_shared_shift():
    scores = rand_codes(4, 6, seed=13).numpy().astype(np.float64)
    ours = concept_predictions(torch.from_numpy(scores), temperature=0.1)
    expected = np.exp(scores / 0.1) / np.exp(scores / 0.1).sum(1, keepdims=True)
    assert np.allclose(ours.numpy(), expected, atol=1e-6)
    # the same prediction that Eq. 4's cross-entropy scores
    targets = torch.softmax(rand(4, 6, seed=14), 1).double()
    assert swapped_prediction_loss(torch.from_numpy(scores), targets, 0.1).item() == \
        pytest.approx(-(targets * ours.log()).sum(1).mean().item(), rel=1e-5)
    # what Eq. 4 cannot see: a shift shared by all of a sample's codes
    shifted = torch.from_numpy(scores) + torch.tensor([[0.3], [-0.5], [0.0], [0.9]])
    assert torch.allclose(concept_predictions(shifted, 0.1), ours, atol=1e-6)
    # the temperature matters: a colder softmax is sharper
    assert (concept_predictions(torch.from_numpy(scores), 0.05).max(1).values
            >= ours.max(1).values - 1e-9).all()
    with pytest.raises(ValueError, match='temperature must be positive'):
        concept_predictions(torch.zeros(2, 3), 0)
    with pytest.raises(ValueError, match=r'must be \(N, K\), got \(3,\)'):
        concept_predictions(torch.zeros(3), 0.1)


def test_concept_alignment_loss_matches_equation_4():
    n, ks, kd, tau = 6, 4, 3, 0.1
    q_s, q_d, q_v = rand_codes(n, ks, seed=13), rand_codes(n, kd, seed=14), rand_codes(
        n, ks + kd, seed=15)
    ours = concept_alignment_loss(q_s, q_d, q_v, temperature=tau)
    q_vs, q_vd = q_v[:, :ks].numpy(), q_v[:, ks:].numpy()
    expected = (ref_cross_entropy(q_vs, ref_sinkhorn(q_s.numpy()), tau)
                + ref_cross_entropy(q_s, ref_sinkhorn(q_vs), tau)
                + ref_cross_entropy(q_vd, ref_sinkhorn(q_d.numpy()), tau)
                + ref_cross_entropy(q_d, ref_sinkhorn(q_vd), tau))
    assert ours.item() == pytest.approx(expected, rel=1e-5)
    static_half, dynamic_half = concept_alignment_loss(q_s, q_d, q_v, temperature=tau,
                                                       return_parts=True)
    assert dynamic_half.item() == pytest.approx(
        ref_cross_entropy(q_vd, ref_sinkhorn(q_d.numpy()), tau)
        + ref_cross_entropy(q_d, ref_sinkhorn(q_vd), tau), rel=1e-5)
    assert (static_half + dynamic_half).item() == pytest.approx(expected, rel=1e-5)


def test_concept_alignment_loss_with_queues_matches_reference():
    n, ks, kd, tau = 3, 4, 3, 0.1
    q_s, q_d, q_v = rand_codes(n, ks, seed=16), rand_codes(n, kd, seed=17), rand_codes(
        n, ks + kd, seed=18)
    queues = dict(static=rand_codes(9, ks, seed=19), diff=rand_codes(9, kd, seed=20),
                  clip=rand_codes(9, ks + kd, seed=21))

    def target(scores, queue):
        return ref_sinkhorn(np.concatenate([queue, scores]))[-n:]

    q_vs, q_vd = q_v[:, :ks].numpy(), q_v[:, ks:].numpy()
    expected = (ref_cross_entropy(q_vs, target(q_s.numpy(), queues['static'].numpy()), tau)
                + ref_cross_entropy(q_s, target(q_vs, queues['clip'][:, :ks].numpy()), tau)
                + ref_cross_entropy(q_vd, target(q_d.numpy(), queues['diff'].numpy()), tau)
                + ref_cross_entropy(q_d, target(q_vd, queues['clip'][:, ks:].numpy()), tau))
    ours = concept_alignment_loss(q_s, q_d, q_v, temperature=tau, queues=queues)
    assert ours.item() == pytest.approx(expected, rel=1e-5)


def test_concept_alignment_targets_carry_no_gradient():
    """With fixed targets t, d CE(t, softmax(q / tau)) / dq = (softmax(q / tau) - t) / (tau N).

    If gradient leaked through the Sinkhorn targets, extra terms would appear.
    """
    n, ks, kd, tau = 5, 4, 3, 0.1
    q_s = rand_codes(n, ks, seed=22).requires_grad_()
    q_d = rand_codes(n, kd, seed=23).requires_grad_()
    q_v = rand_codes(n, ks + kd, seed=24).requires_grad_()
    concept_alignment_loss(q_s, q_d, q_v, temperature=tau).backward()

    def expected_grad(pred, other):
        target = sinkhorn_knopp(other)
        return (torch.softmax(pred.detach() / tau, 1) - target) / (tau * n)

    torch.testing.assert_close(q_s.grad, expected_grad(q_s, q_v[:, :ks].detach()))
    torch.testing.assert_close(q_d.grad, expected_grad(q_d, q_v[:, ks:].detach()))
    torch.testing.assert_close(q_v.grad[:, :ks], expected_grad(q_v[:, :ks], q_s.detach()))
    torch.testing.assert_close(q_v.grad[:, ks:], expected_grad(q_v[:, ks:], q_d.detach()))


# ----------------------------------------------------------------- Eq. 5, 6
def test_diversity_loss_matches_reference():
    codes = [rand_codes(4, 3, seed=25), rand_codes(4, 2, seed=26), rand_codes(4, 5, seed=27)]
    expected = sum(
        sum(sum(abs(float(x)) for x in row) for row in c.numpy()) / 4 for c in codes)
    assert diversity_loss(codes).item() == pytest.approx(expected, rel=1e-6)


def test_fidelity_loss_matches_reference_and_stops_target_gradient():
    recons = [rand(4, 6, seed=28, requires_grad=True), rand(4, 6, seed=29, requires_grad=True)]
    feats = [rand(4, 6, seed=30, requires_grad=True), rand(4, 6, seed=31, requires_grad=True)]
    loss = fidelity_loss(recons, feats)
    expected = sum(
        float(np.mean((r.detach().numpy().astype(np.float64) - f.detach().numpy())**2))
        for r, f in zip(recons, feats))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    for recon, feat in zip(recons, feats):
        assert recon.grad is not None and recon.grad.abs().sum() > 0
        assert feat.grad is None  # stop-gradient on the target features
    with pytest.raises(ValueError, match='reconstruction'):
        fidelity_loss([rand(4, 6)], [rand(4, 5)])


# ----------------------------------------------------------------- Eq. 7
def test_concept_cross_attention_matches_loop_reference():
    torch.manual_seed(0)
    num_k, cp, c, c_out = 3, 5, 4, 6
    protos = rand(num_k, cp, seed=32, requires_grad=True)
    fmap = rand(2, c, 2, 3, 2, seed=33, requires_grad=True)
    wq, wk, wv = (torch.nn.Linear(cp, c_out), torch.nn.Linear(c, c_out),
                  torch.nn.Linear(c, c_out))
    feats, attn = concept_cross_attention(protos, fmap, wq, wk, wv)
    assert feats.shape == (2, num_k, c_out) and attn.shape == (2, num_k, 12)

    def np_(t):
        return t.detach().numpy().astype(np.float64)

    for n in range(2):
        locations = [np_(fmap[n, :, t, h, w]) for t in range(2) for h in range(3)
                     for w in range(2)]
        for k in range(num_k):
            q = np_(wq.weight) @ np_(protos[k]) + np_(wq.bias)
            keys = [np_(wk.weight) @ x + np_(wk.bias) for x in locations]
            values = [np_(wv.weight) @ x + np_(wv.bias) for x in locations]
            logits = np.array([q @ key / math.sqrt(c_out) for key in keys])
            weights = np.exp(logits - logits.max())
            weights /= weights.sum()
            out = q + sum(w * v for w, v in zip(weights, values))
            np.testing.assert_allclose(np_(attn[n, k]), weights, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(np_(feats[n, k]), out, rtol=1e-5, atol=1e-5)
    feats.sum().backward()
    assert protos.grad.abs().sum() > 0 and fmap.grad.abs().sum() > 0


# ----------------------------------------------------------------- Eq. 8
def test_valid_concept_mask_is_intersection_of_top_k():
    a, b = rand_codes(6, 8, seed=34), rand_codes(6, 8, seed=35)
    mask = valid_concept_mask(a, b, top_k=3)
    assert mask.dtype == torch.bool and mask.shape == (6, 8)
    for n in range(6):
        top_a = set(np.argsort(-a[n].numpy())[:3].tolist())
        top_b = set(np.argsort(-b[n].numpy())[:3].tolist())
        assert set(torch.nonzero(mask[n]).flatten().tolist()) == top_a & top_b
    assert top_k_mask(a, 3).sum(1).eq(3).all()
    with pytest.raises(ValueError, match='top_k'):
        valid_concept_mask(a, b, top_k=9)


# ----------------------------------------------------------------- Eq. 9, 10
@pytest.mark.parametrize('normalize,margin', [(True, 1.4), (False, 3.0), (True, 0.0)])
def test_concept_margin_loss_matches_reference(normalize, margin):
    anchor, other = rand(5, 4, 6, seed=36), rand(5, 4, 6, seed=37)
    valid = rand_codes(5, 4, seed=38) > 0
    assert 0 < valid.sum() < valid.numel()
    ours = concept_margin_loss(anchor, other, valid, margin=margin, normalize=normalize)
    expected = ref_margin(anchor.numpy(), other.numpy(), valid.numpy(), margin, normalize)
    assert ours.item() == pytest.approx(expected, rel=1e-5)
    if margin > 0:  # the hinge must be active for some negatives, or this tests no hinge
        assert ref_margin(anchor.numpy(), other.numpy(), valid.numpy(), 0.0,
                          normalize) < expected


def test_concept_margin_loss_gradients_reach_both_views():
    anchor = rand(4, 3, 5, seed=39, requires_grad=True)
    other = rand(4, 3, 5, seed=40, requires_grad=True)
    valid = torch.ones(4, 3, dtype=torch.bool)
    concept_margin_loss(anchor, other, valid).backward()
    assert anchor.grad.abs().sum() > 0 and other.grad.abs().sum() > 0


def test_concept_margin_loss_empty_valid_set_is_exact_zero_with_graph():
    anchor = rand(4, 3, 5, seed=41, requires_grad=True)
    other = rand(4, 3, 5, seed=42, requires_grad=True)
    loss = concept_margin_loss(anchor, other, torch.zeros(4, 3, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(anchor.grad, torch.zeros_like(anchor))
    assert torch.equal(other.grad, torch.zeros_like(other))


def test_concept_margin_loss_finite_for_identical_features_and_single_sample():
    feats = rand(3, 2, 4, seed=43)
    anchor, other = feats.clone().requires_grad_(), feats.clone().requires_grad_()
    other_dup = torch.cat([other[:1], other[:1], other[2:]])  # two videos with equal features
    loss = concept_margin_loss(anchor, other_dup, torch.ones(3, 2, dtype=torch.bool))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(anchor.grad).all()
    assert torch.isfinite(other.grad).all()
    single = concept_margin_loss(rand(1, 2, 4, seed=44), rand(1, 2, 4, seed=45),
                                 torch.ones(1, 2, dtype=torch.bool))
    expected = ref_margin(rand(1, 2, 4, seed=44).numpy(), rand(1, 2, 4, seed=45).numpy(),
                          np.ones((1, 2), bool), 1.4, True)
    assert single.item() == pytest.approx(expected, rel=1e-5)


def test_local_concept_loss_is_symmetric_sum_of_equation_9():
    n, ks, kd, c = 4, 5, 3, 6
    f_s, f_vs = rand(n, ks, c, seed=46), rand(n, ks, c, seed=47)
    f_d, f_vd = rand(n, kd, c, seed=48), rand(n, kd, c, seed=49)
    valid_s, valid_d = rand_codes(n, ks, seed=50) > 0, rand_codes(n, kd, seed=51) > 0
    ours = local_concept_loss(f_s, f_vs, valid_s, f_d, f_vd, valid_d, margin=1.4)

    def ref(a, b, v):
        return ref_margin(a.numpy(), b.numpy(), v.numpy(), 1.4, True)

    expected = (ref(f_s, f_vs, valid_s) + ref(f_vs, f_s, valid_s) + ref(f_d, f_vd, valid_d)
                + ref(f_vd, f_d, valid_d))
    assert ours.item() == pytest.approx(expected, rel=1e-5)
    empty = local_concept_loss(f_s, f_vs, torch.zeros_like(valid_s), f_d, f_vd,
                               torch.zeros_like(valid_d))
    assert empty.item() == 0.0
