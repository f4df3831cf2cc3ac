"""Whether one model is right on more of the same test items than another by more than
chance: the exact one-sided McNemar (sign) test on the items where exactly one is right.

Two linear probes scored on the same few dozen videos differ by several points from noise
alone (64 videos: one video is 1.6 points, and two accuracies near 30 % differ by about 8
points, one standard deviation). Pairing the two models' outcomes video by video removes
the part of that noise that comes from which videos are easy.
"""
import math
from typing import Dict, Sequence


def paired_sign_test(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> Dict:
    """Exact one-sided McNemar test that model A is right more often than model B.

    Args:
        correct_a / correct_b: one bool per test item, in the same order (item ``i`` of
            both is the same video).

    Returns:
        dict: ``only_a`` / ``only_b`` (items only A / only B got right) and ``p_value``,
        the probability of ``only_a`` or more of the ``only_a + only_b`` discordant items
        going A's way if each were a fair coin (1.0 when there are none).
    """
    if len(correct_a) != len(correct_b):
        raise ValueError(f'paired_sign_test: {len(correct_a)} outcomes for A but '
                         f'{len(correct_b)} for B; both must score the same items')
    for name, outcomes in (('A', correct_a), ('B', correct_b)):
        bad = [value for value in outcomes if not isinstance(value, bool)]
        if bad:
            raise ValueError(f'paired_sign_test: outcomes of {name} must be bools, got '
                             f'{bad[0]!r}')
    only_a = sum(a and not b for a, b in zip(correct_a, correct_b))
    only_b = sum(b and not a for a, b in zip(correct_a, correct_b))
    discordant = only_a + only_b
    # exact binomial tail; integers throughout, so no rounding until the one division
    tail = sum(math.comb(discordant, k) for k in range(only_a, discordant + 1))
    return dict(only_a=only_a, only_b=only_b, p_value=tail / 2 ** discordant)
