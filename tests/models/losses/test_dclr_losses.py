"""DCLR's loss functions against slow loop-based references written from the method's
definitions (BASELINES_NOTES section 1)."""
import math

import pytest
import torch
import torch.nn.functional as F

from sdc_mmaction.models.losses import (activation_alignment_loss, activation_map,
                                        activation_weighted_pool, multi_positive_info_nce,
                                        normalised_activation, queue_affinity,
                                        top_k_queue_positives)

N, K, D, TAU = 4, 9, 6, 0.07


def unit(*shape, seed):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)),
                       dim=-1)


def reference_nce(query, key, queue, positives, tau):
    total = 0.0
    for i in range(query.shape[0]):
        logits = [float(query[i] @ key[i]) / tau]
        logits += [float(query[i] @ queue[j]) / tau for j in range(queue.shape[0])]
        denominator = sum(math.exp(x) for x in logits)
        mass = math.exp(logits[0]) / denominator
        for j in range(queue.shape[0]):
            if positives is not None and positives[i][j]:
                mass += math.exp(logits[j + 1]) / denominator
        total += -math.log(mass)
    return total / query.shape[0]


def reference_top_k(scores, k, valid):
    mask = []
    for row in scores.tolist():
        order = sorted(range(len(row)), key=lambda j: -row[j])
        if valid is not None:
            order = [j for j in order if valid[j]]
        chosen = set(order[:k])
        mask.append([j in chosen for j in range(len(row))])
    return torch.tensor(mask)


@pytest.mark.parametrize('with_positives', [False, True])
def test_multi_positive_info_nce_matches_loop(with_positives):
    query, key, queue = unit(N, D, seed=0), unit(N, D, seed=1), unit(K, D, seed=2)
    positives = None
    if with_positives:
        positives = torch.rand(N, K, generator=torch.Generator().manual_seed(3)) > 0.6
        positives[0] = False  # a row with only the key as positive
    loss = multi_positive_info_nce(query, key, queue, positives, TAU)
    assert loss.item() == pytest.approx(reference_nce(query, key, queue, positives, TAU),
                                        rel=1e-5)
    if with_positives:  # more positives, lower loss: the mask is really used
        assert loss < multi_positive_info_nce(query, key, queue, None, TAU)


def test_multi_positive_info_nce_gradient_and_errors():
    query = unit(N, D, seed=0).requires_grad_()
    loss = multi_positive_info_nce(query, unit(N, D, seed=1), unit(K, D, seed=2))
    loss.backward()
    assert torch.isfinite(query.grad).all() and query.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='queue_positives'):
        multi_positive_info_nce(query, unit(N, D, seed=1), unit(K, D, seed=2),
                                torch.ones(N, K + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'queue \(9, 5\)'):
        multi_positive_info_nce(query, unit(N, D, seed=1), unit(K, 5, seed=2))


def test_queue_affinity_and_top_k_match_loop():
    anchor, queue = unit(N, D, seed=4), unit(K, D, seed=5)
    affinity = queue_affinity(anchor, queue)
    for i in range(N):
        row = [math.exp(float(anchor[i] @ queue[j])) for j in range(K)]
        expected = [x / sum(row) for x in row]
        assert affinity[i].tolist() == pytest.approx(expected, rel=1e-5)
    valid = torch.tensor([True] * 6 + [False] * 3)
    for k, v in ((3, None), (3, valid), (8, valid), (0, None)):
        got = top_k_queue_positives(affinity, k, v)
        assert torch.equal(got, reference_top_k(affinity, k, v)), (k, v)
    # the sum of two affinities (L_vv's positives) ranks by the sum
    other = queue_affinity(unit(N, D, seed=6), queue)
    assert torch.equal(top_k_queue_positives(affinity + other, 2),
                       reference_top_k(affinity + other, 2, None))
    with pytest.raises(ValueError, match='top_k=10'):
        top_k_queue_positives(affinity, 10)


def test_activation_maps_pooling_and_alignment_match_loop():
    gen = torch.Generator().manual_seed(7)
    fmap = torch.rand(2, 3, 2, 2, 3, generator=gen)
    other = torch.rand(2, 3, 2, 2, 3, generator=gen)
    a = activation_map(fmap)
    a_hat = normalised_activation(activation_map(other))
    pooled = activation_weighted_pool(fmap, a_hat)
    for n in range(2):
        cells = [(t, h, w) for t in range(2) for h in range(2) for w in range(3)]
        a_other = {c: sum(float(other[n, ch][c]) for ch in range(3)) for c in cells}
        mean_other = sum(a_other.values()) / len(cells)
        for c in cells:
            assert a[n][c].item() == pytest.approx(sum(float(fmap[n, ch][c])
                                                       for ch in range(3)), rel=1e-5)
            assert a_hat[n][c].item() == pytest.approx(a_other[c] / mean_other, rel=1e-5)
        for ch in range(3):
            expected = sum(float(fmap[n, ch][c]) * a_other[c] / mean_other
                           for c in cells) / len(cells)
            assert pooled[n, ch].item() == pytest.approx(expected, rel=1e-5)
    # silent units give zeros, not NaN
    assert torch.equal(normalised_activation(torch.zeros(1, 2, 2, 2)), torch.zeros(1, 2, 2, 2))

    a_v, a_s, a_d = (torch.rand(2, 2, 2, 3, generator=gen) for _ in range(3))
    loss = activation_alignment_loss(a_v, a_s, a_d)
    cells = [(n, t, h, w) for n in range(2) for t in range(2) for h in range(2)
             for w in range(3)]
    expected = sum((float(a_v[c]) - float(a_s[c]) - float(a_d[c])) ** 2
                   for c in cells) / len(cells)
    assert loss.item() == pytest.approx(expected, rel=1e-5)

    normalised = activation_alignment_loss(a_v, a_s, a_d, normalise=True)
    expected = 0.0
    for n in range(2):
        sample = [c for c in cells if c[0] == n]
        mean_v = sum(float(a_v[c]) for c in sample) / len(sample)
        mean_parts = sum(float(a_s[c]) + float(a_d[c]) for c in sample) / len(sample)
        expected += sum((float(a_v[c]) / mean_v - (float(a_s[c]) + float(a_d[c])) /
                         mean_parts) ** 2 for c in sample)
    assert normalised.item() == pytest.approx(expected / len(cells), rel=1e-5)
    # scale-free: the same maps ten times stronger give the same value
    assert activation_alignment_loss(10 * a_v, 10 * a_s, 10 * a_d,
                                     normalise=True).item() == pytest.approx(
                                         normalised.item(), rel=1e-5)


def test_activation_alignment_stop_gradient_flag():
    a_v, a_s, a_d = (torch.rand(1, 2, 2, 2, requires_grad=True) for _ in range(3))
    activation_alignment_loss(a_v, a_s, a_d, detach_parts=True).backward()
    assert a_v.grad is not None and a_s.grad is None and a_d.grad is None
    activation_alignment_loss(a_v, a_s, a_d).backward()
    assert a_s.grad is not None and a_d.grad is not None
    with pytest.raises(ValueError, match='differ in shape'):
        activation_alignment_loss(a_v, a_s, torch.rand(1, 2, 2, 3))
