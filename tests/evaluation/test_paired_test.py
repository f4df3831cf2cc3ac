"""The paired sign test the quick start's action check uses, against scipy's exact
binomial test and a hand count."""
import math

import pytest
from scipy.stats import binomtest

from sdc_mmaction.evaluation.paired_test import paired_sign_test


def _outcomes(both, only_a, only_b, neither):
    """Outcome lists with the given counts of each kind of item, interleaved."""
    kinds = [(True, True)] * both + [(True, False)] * only_a + \
        [(False, True)] * only_b + [(False, False)] * neither
    kinds = kinds[::2] + kinds[1::2]  # not sorted by kind: the pairing must be used
    return [a for a, _ in kinds], [b for _, b in kinds]


@pytest.mark.parametrize('only_a,only_b', [(14, 6), (6, 14), (5, 0), (0, 5), (10, 10),
                                           (1, 0), (30, 17)])
def test_matches_scipy_exact_binomial(only_a, only_b):
    correct_a, correct_b = _outcomes(7, only_a, only_b, 11)
    result = paired_sign_test(correct_a, correct_b)
    assert (result['only_a'], result['only_b']) == (only_a, only_b)
    expected = binomtest(only_a, only_a + only_b, 0.5, alternative='greater').pvalue
    assert result['p_value'] == pytest.approx(expected, rel=1e-12)


def test_hand_count_and_ties():
    # a 12.5-point lead on 64 videos, made of 14 against 6 discordant videos
    correct_a, correct_b = _outcomes(12, 14, 6, 32)
    tail = sum(math.comb(20, k) for k in range(14, 21)) / 2 ** 20
    assert paired_sign_test(correct_a, correct_b)['p_value'] == pytest.approx(tail)
    assert 0.05 < tail < 0.06  # a 12.5-point lead on 64 videos that is not significant
    # the items both got right or both wrong do not count: no discordant item, p = 1
    same = [True, False, True]
    assert paired_sign_test(same, same) == dict(only_a=0, only_b=0, p_value=1.0)


def test_rejects_unpaired_or_non_bool_outcomes():
    with pytest.raises(ValueError, match='3 outcomes for A but 2 for B'):
        paired_sign_test([True, False, True], [True, False])
    with pytest.raises(ValueError, match='outcomes of B must be bools, got 1'):
        paired_sign_test([True, False], [True, 1])
