"""Hand-made quick-start results for the tests of the claims' checks (core and study)."""
from sdc_mmaction.apis.quickstart import DISTRIBUTION_FEATURES, FEATURES, VIEW_FEATURES


def probe_results(action_v, static, dynamic, motion):
    """Probe results with every feature at ``static[f]`` etc. (defaults 0.5)."""
    def row(values):
        return {f: values.get(f, 0.5)
                for f in FEATURES + DISTRIBUTION_FEATURES + VIEW_FEATURES}
    return dict(probes=dict(action=row(dict(v=action_v)), static=row(static),
                            dynamic=row(dynamic), motion=row(motion)))


def paired_outcomes(both, only_a, only_b, neither):
    """Per-video outcomes of two probes of 64 videos, and their accuracies."""
    a = [True] * (both + only_a) + [False] * (only_b + neither)
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    assert len(a) == len(b) == 64
    return a, b, sum(a) / 64, sum(b) / 64


def concept_outcomes(**rows):
    """``concept_correct`` with every probe wrong except the (label set, feature) given."""
    correct = {labels: {f: [False] * 64
                        for f in ('q_v_s', 'q_v_d', 'F_v_s', 'F_v_d', 'p_v_s', 'p_v_d')}
               for labels in ('static', 'dynamic', 'motion')}
    for key, outcomes in rows.items():
        labels, feature = key.split('__')
        correct[labels][feature] = outcomes
    return correct
