"""Collapse diagnostics of concept codes: NMI against a direct count, and Sinkhorn
assignments of codes that do and do not group the videos."""
import math
from collections import Counter

import pytest
import torch

from sdc_mmaction.apis.code_diagnostics import (code_assignment_stats,
                                                normalized_mutual_information)


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
