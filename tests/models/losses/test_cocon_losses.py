"""CoCon's losses against slow loop-based references written from the equations."""
import math

import pytest
import torch

from sdc_mmaction.models.losses import (cross_view_similarity_loss, dense_predictive_loss,
                                        view_sync_loss)


def _cos(u, v):
    return float(u @ v) / (float(u.norm()) * float(v.norm()))


def reference_dense_predictive(pred, target, temperature):
    B, K, C, H, W = pred.shape
    index = [(b, k, y, x) for b in range(B) for k in range(K) for y in range(H)
             for x in range(W)]
    total = 0.0
    for query in index:
        p = pred[query[0], query[1], :, query[2], query[3]]
        scores = [float(p @ target[key[0], key[1], :, key[2], key[3]]) / temperature
                  for key in index]
        top = max(scores)
        log_norm = top + math.log(sum(math.exp(s - top) for s in scores))
        total += log_norm - scores[index.index(query)]
    return total / len(index)


def reference_sync(a, b):
    n = a.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            total += abs(_cos(a[i], a[j]) - _cos(b[i], b[j]))
    return total / (n * n)


def reference_sim(a, b, f):
    n = a.shape[0]
    pos, neg = [], []
    for i in range(n):
        for j in range(n):
            c = _cos(a[i], b[j])
            if i == j:
                pos.append(1 - c)
            else:
                neg.append(max(0.0, c))
    return f * sum(pos) / len(pos) + (1 - f) * sum(neg) / len(neg)


@pytest.mark.parametrize('temperature', [0.07 ** 2, 0.5])
def test_dense_predictive_matches_reference(temperature):
    torch.manual_seed(0)
    pred = torch.nn.functional.normalize(torch.randn(2, 3, 4, 2, 2, dtype=torch.float64), dim=2)
    target = torch.nn.functional.normalize(torch.randn(2, 3, 4, 2, 2, dtype=torch.float64),
                                           dim=2)
    got = dense_predictive_loss(pred, target, temperature)
    assert got.item() == pytest.approx(reference_dense_predictive(pred, target, temperature),
                                       rel=1e-9)


def test_dense_predictive_rewards_correct_predictions():
    torch.manual_seed(1)
    target = torch.nn.functional.normalize(torch.randn(2, 3, 8, 2, 2), dim=2)
    shuffled = target.flip(0)
    assert dense_predictive_loss(target, target, 0.1) < dense_predictive_loss(
        shuffled, target, 0.1)


def test_dense_predictive_bad_shapes():
    with pytest.raises(ValueError, match=r'\(B, K, C, H, W\)'):
        dense_predictive_loss(torch.zeros(2, 3, 4, 2), torch.zeros(2, 3, 4, 2))
    with pytest.raises(ValueError, match='temperature'):
        dense_predictive_loss(torch.zeros(1, 1, 2, 1, 1), torch.zeros(1, 1, 2, 1, 1), 0.0)


def test_view_sync_matches_reference():
    torch.manual_seed(2)
    a = torch.randn(6, 5, dtype=torch.float64)
    b = torch.randn(6, 3, dtype=torch.float64)  # views may differ in channels
    assert view_sync_loss(a, b).item() == pytest.approx(reference_sync(a, b), rel=1e-9)
    # invariant to a rotation of one view's feature space: only similarities matter
    q, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64))
    assert view_sync_loss(a @ q, a).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize('f', [0.5, 0.2])
def test_cross_view_similarity_matches_reference(f):
    torch.manual_seed(3)
    a = torch.randn(6, 4, dtype=torch.float64)
    b = torch.randn(6, 4, dtype=torch.float64)
    got = cross_view_similarity_loss(a, b, f).item()
    assert got == pytest.approx(reference_sim(a, b, f), rel=1e-9)
    # symmetric in the two views
    assert cross_view_similarity_loss(b, a, f).item() == pytest.approx(got, rel=1e-12)


def test_cross_view_similarity_minimum():
    # identical rows across views and mutually orthogonal rows: both terms are zero
    eye = torch.eye(4)
    assert cross_view_similarity_loss(eye, eye).item() == pytest.approx(0.0, abs=1e-7)


def test_view_losses_bad_input():
    with pytest.raises(ValueError, match='same N'):
        view_sync_loss(torch.zeros(4, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match='channels'):
        cross_view_similarity_loss(torch.randn(4, 2), torch.randn(4, 3))
    with pytest.raises(ValueError, match='positive_weight'):
        cross_view_similarity_loss(torch.randn(4, 2), torch.randn(4, 2), 1.5)


def test_losses_have_gradients():
    a = torch.randn(6, 4, requires_grad=True)
    b = torch.randn(6, 4, requires_grad=True)
    (view_sync_loss(a, b) + cross_view_similarity_loss(a, b)).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
