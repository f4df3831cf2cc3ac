"""Collapse diagnostics of concept codes: NMI against a direct count, and Sinkhorn
assignments of codes that do and do not group the videos."""
import math
from collections import Counter

import pytest
import torch

from projects.cpu_scale_study.cpu_scale_study.apis.code_diagnostics import (code_assignment_stats, cosine_code_parts,
                                                factor_variance_share,
                                                normalized_mutual_information)
from sdc_mmaction.models.losses import concept_codes


def _reference_nmi(a, b):
    n = len(a)
    pa, pb, pab = Counter(a), Counter(b), Counter(zip(a, b))
    mutual = sum(c / n * math.log(c * n / (pa[x] * pb[y])) for (x, y), c in pab.items())
    h_a = -sum(c / n * math.log(c / n) for c in pa.values())
    h_b = -sum(c / n * math.log(c / n) for c in pb.values())
    return mutual / math.sqrt(h_a * h_b)


def test_nmi_matches_a_direct_count():
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        a = torch.randint(0, 5, (60, ), generator=gen)
        b = (a + torch.randint(0, 3, (60, ), generator=gen)) % 7
        assert normalized_mutual_information(a, b) == pytest.approx(
            _reference_nmi(a.tolist(), b.tolist()), abs=1e-9)


def test_nmi_limits():
    a = torch.tensor([0, 0, 1, 1, 2, 2])
    assert normalized_mutual_information(a, a) == pytest.approx(1.0)
    assert normalized_mutual_information(a, torch.tensor([5, 5, 9, 9, 7, 7])) == \
        pytest.approx(1.0)  # a relabeling
    assert normalized_mutual_information(torch.tensor([0, 0, 1, 1]),
                                         torch.tensor([0, 1, 0, 1])) == pytest.approx(0.0)
    assert normalized_mutual_information(a, torch.zeros(6, dtype=torch.long)) == 0.0


def test_nmi_rejects_bad_labels():
    with pytest.raises(ValueError, match='expected 3 integer labels'):
        normalized_mutual_information(torch.tensor([0, 1, 2]), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match='integers'):
        normalized_mutual_information(torch.tensor([0, 1]), torch.tensor([0.0, 1.0]))


def _grouped_codes(labels, num_concepts, spread):
    """Cosine-like codes: each video close to the concept of its label."""
    gen = torch.Generator().manual_seed(1)
    codes = torch.full((len(labels), num_concepts), -0.2)
    codes[torch.arange(len(labels)), labels] = 0.9
    return codes + spread * torch.randn(codes.shape, generator=gen)


def test_codes_that_group_by_a_factor():
    motion = torch.arange(4).repeat_interleave(8)  # 4 motions x 8 videos
    scene = torch.arange(8).repeat(4)  # independent of the motion
    stats = code_assignment_stats(_grouped_codes(motion, 4, 0.01),
                                  dict(dynamic=motion, static=scene))
    assert stats['uniform_entropy'] == pytest.approx(math.log(4))
    assert stats['target_entropy'] < 0.1
    assert stats['concepts_used'] == 4
    assert stats['nmi_dynamic'] == pytest.approx(1.0)
    assert stats['nmi_static'] < 0.2
    assert stats['code_std'] > 0.3


def test_collapsed_codes_give_uniform_targets():
    motion = torch.arange(4).repeat_interleave(8)
    collapsed = torch.tensor([0.3, -0.1, 0.2, 0.0]).repeat(32, 1)
    stats = code_assignment_stats(collapsed, dict(dynamic=motion))
    assert stats['code_std'] == pytest.approx(0.0)
    assert stats['target_entropy'] == pytest.approx(math.log(4), abs=1e-6)
    assert stats['nmi_dynamic'] == pytest.approx(0.0, abs=1e-9)


def test_code_assignment_stats_rejects_bad_input():
    labels = dict(dynamic=torch.arange(4))
    with pytest.raises(ValueError, match='NaN or Inf'):
        code_assignment_stats(torch.tensor([[0.1, float('nan')]] * 4), labels)
    with pytest.raises(ValueError, match=r"labels\['dynamic'\]: expected 3"):
        code_assignment_stats(torch.zeros(3, 2), labels)
    with pytest.raises(ValueError, match=r'\(N, K\) with N >= 2'):
        code_assignment_stats(torch.zeros(1, 2), dict())


def _reference_share(rows, labels):
    """Between-class over total sum of squares, with plain Python loops."""
    dims = range(len(rows[0]))
    mean = [sum(r[d] for r in rows) / len(rows) for d in dims]
    total = sum((r[d] - mean[d]) ** 2 for r in rows for d in dims)
    between = 0.0
    for c in set(labels):
        members = [r for r, y in zip(rows, labels) if y == c]
        class_mean = [sum(r[d] for r in members) / len(members) for d in dims]
        between += len(members) * sum((class_mean[d] - mean[d]) ** 2 for d in dims)
    return between / total


def test_factor_variance_share_matches_a_direct_sum():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (40, ), generator=gen)
    # a class-dependent shift in two of five dimensions, plus noise; uneven classes
    features = torch.randn(40, 5, generator=gen)
    features[:, :2] += 3 * labels[:, None].float()
    got = factor_variance_share(features, labels)
    assert got == pytest.approx(_reference_share(features.tolist(), labels.tolist()),
                                rel=1e-9)
    assert 0.5 < got < 1.0
    # exactly 1 without noise within classes, about (C - 1) / (N - 1) without a shift
    assert factor_variance_share(labels[:, None].float() * torch.ones(1, 3), labels) == \
        pytest.approx(1.0)
    chance = [factor_variance_share(torch.randn(40, 5, generator=gen), labels)
              for _ in range(200)]
    assert sum(chance) / len(chance) == pytest.approx(3 / 39, rel=0.25)


def test_factor_variance_share_errors_name_the_problem():
    with pytest.raises(ValueError, match=r'\(N, D\) with N >= 2'):
        factor_variance_share(torch.zeros(1, 3), torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match='NaN or Inf'):
        factor_variance_share(torch.tensor([[0.0], [float('nan')]]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='same for every row'):
        factor_variance_share(torch.ones(4, 2), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(TypeError, match='labels must be integers'):
        factor_variance_share(torch.randn(4, 2), torch.tensor([0.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r'expected 4 integer labels'):
        factor_variance_share(torch.randn(4, 2), torch.tensor([0, 1]))


def test_cosine_code_parts_recombine_into_eq3_codes():
    gen = torch.Generator().manual_seed(0)
    projected, prototypes = torch.randn(6, 5, generator=gen), torch.randn(4, 5, generator=gen)
    parts = cosine_code_parts(projected, prototypes)
    assert list(parts) == ['norm', 'dots', 'codes', 'shift', 'centred']
    codes = concept_codes(projected.double(), prototypes.double())
    assert torch.allclose(parts['codes'], codes, rtol=0, atol=1e-12)
    assert torch.allclose(parts['dots'] / parts['norm'], codes, rtol=0, atol=1e-12)
    assert torch.allclose(parts['shift'] + parts['centred'], codes, rtol=0, atol=1e-12)
    assert torch.allclose(parts['centred'].sum(dim=1), torch.zeros(6, dtype=torch.float64),
                          rtol=0, atol=1e-12)
    # the prototypes' scale is ignored
    assert torch.allclose(cosine_code_parts(projected, 3 * prototypes)['codes'], codes,
                          rtol=0, atol=1e-6)
    for i in range(6):  # a direct loop over one sample's numbers
        norm = math.sqrt(sum(x * x for x in projected[i].tolist()))
        assert parts['norm'][i, 0].item() == pytest.approx(norm)
        for k in range(4):
            proto = prototypes[k].tolist()
            dot = sum(x * p for x, p in zip(projected[i].tolist(), proto))
            dot /= math.sqrt(sum(p * p for p in proto))
            assert parts['dots'][i, k].item() == pytest.approx(dot, rel=1e-9, abs=1e-12)
        shift = sum(codes[i].tolist()) / 4
        assert parts['shift'][i, 0].item() == pytest.approx(shift, abs=1e-12)
    # scaling a sample moves its norm and dot products, never its codes
    scale = torch.arange(1, 7, dtype=torch.float64).unsqueeze(1)
    scaled = cosine_code_parts(projected.double() * scale, prototypes)
    assert torch.allclose(scaled['codes'], parts['codes'], rtol=0, atol=1e-12)
    assert torch.allclose(scaled['norm'], parts['norm'] * scale, rtol=1e-12)


def test_cosine_code_parts_names_mismatched_shapes():
    with pytest.raises(ValueError, match=r'\(6, 5\) and \(4, 3\)'):
        cosine_code_parts(torch.randn(6, 5), torch.randn(4, 3))
    with pytest.raises(ValueError, match='projected'):
        cosine_code_parts(torch.randn(5), torch.randn(4, 5))
    with pytest.raises(ValueError, match='prototypes contain NaN'):
        cosine_code_parts(torch.randn(6, 5), torch.full((4, 5), float('nan')))
