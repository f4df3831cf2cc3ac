"""The quick start's whole path on a few videos (numbers meaningless at this size), the
checks it reports (on hand-made results), and the learning claims on the ``ci`` preset, the
smallest run whose numbers mean something."""
import json
import math
import os.path as osp

import pytest

from sdc_mmaction.apis.quickstart import (FEATURES, PRETRAIN_CONFIG, check_claims,
                                          pretrain_sampling, run_quickstart)


def _probes(action_v, static, dynamic, motion):
    """Probe results with every feature at ``static[f]`` etc. (defaults 0.5)."""
    def row(values):
        return {f: values.get(f, 0.5) for f in FEATURES}
    return dict(probes=dict(action=row(dict(v=action_v)), static=row(static),
                            dynamic=row(dynamic), motion=row(motion)))


def test_check_claims_pass_and_fail():
    margins = dict(action_over_random=0.1, decoupling=0.05)
    random = _probes(0.30, {}, {}, {})
    good = _probes(0.60, dict(q_v_s=0.9, q_v_d=0.4), dict(q_v_s=0.3, q_v_d=0.8),
                   dict(q_v_s=0.3, q_v_d=0.9))
    checks = check_claims(good, random, margins)
    assert all(c['passed'] for c in checks.values()), checks
    bad = _probes(0.35, dict(q_v_s=0.9, q_v_d=0.9, F_v_d=0.9),
                  dict(q_v_s=0.3, q_v_d=0.3, F_v_d=0.3), dict(q_v_d=0.2, F_v_d=0.2))
    checks = check_claims(bad, random, margins)
    assert not checks['beats_random_on_action']['passed']  # 5 points < 10 needed
    assert checks['static_features_know_the_scene']['passed']
    assert not checks['dynamic_features_know_the_motion']['passed']
    assert not checks['motion_only_dynamic_beats_static']['passed']
    assert '35.0 vs 30.0' in checks['beats_random_on_action']['detail']


def test_quickstart_smoke_runs_every_step(tmp_path):
    work_dir = str(tmp_path / 'qs')
    report = run_quickstart(work_dir, preset='smoke')
    for model in ('sdc', 'random'):
        probes = report[model]['probes']
        assert list(probes) == ['action', 'static', 'dynamic', 'motion']
        for row in probes.values():
            assert list(row) == list(FEATURES)
            assert all(0.0 <= acc <= 1.0 for acc in row.values())
        assert list(report[model]['retrieval']) == ['R@1', 'R@5', 'R@10']
        codes = report[model]['codes']
        assert list(codes) == ['q_v_s', 'q_v_d']
        for stats in codes.values():
            assert 0.0 <= stats['target_entropy'] <= stats['uniform_entropy'] + 1e-9
            assert stats['uniform_entropy'] == pytest.approx(math.log(8))
            assert 0.0 <= stats['nmi_static'] <= 1.0 and 0.0 <= stats['nmi_dynamic'] <= 1.0
    assert set(report['checks']) == {
        'beats_random_on_action', 'static_features_know_the_scene',
        'dynamic_features_know_the_motion', 'motion_only_dynamic_beats_static'}
    for name in ('attention', 'code_similarity', 'loss_curves'):
        with open(report['figures'][name], 'rb') as handle:
            assert handle.read(8) == b'\x89PNG\r\n\x1a\n'
    assert osp.isfile(report['backbone'])
    with open(osp.join(work_dir, 'results.json')) as handle:
        assert json.load(handle)['checks'] == report['checks']
    table = open(osp.join(work_dir, 'results.md')).read()
    assert '| SDC | action |' in table and '| random | motion |' in table
    assert '| SDC | q_v_d |' in table and '| random | q_v_s |' in table

    # a second run reuses the dataset and the checkpoint, and gives the same numbers
    again = run_quickstart(work_dir, preset='smoke', figures=False)
    assert again['sdc'] == report['sdc'] and again['random'] == report['random']
    with pytest.raises(FileExistsError, match='other options'):
        run_quickstart(work_dir, preset='default', figures=False)


def test_features_are_extracted_like_the_pretraining_clips():
    assert pretrain_sampling(PRETRAIN_CONFIG) == dict(clip_len=8, frame_interval=2)


@pytest.fixture(scope='module')
def ci_report(tmp_path_factory):
    return run_quickstart(str(tmp_path_factory.mktemp('quickstart_ci')), preset='ci',
                          figures=False)


def test_ci_run_learns_static_concepts(ci_report):
    """The static codes of the clip learn the scene rather than the motion (margin 10
    points, 2 scenes x 2 motions)."""
    check = ci_report['checks']['static_features_know_the_scene']
    assert check['passed'], check['detail']
    assert ci_report['sdc']['probes']['static']['q_v_s'] >= 0.9


@pytest.mark.xfail(strict=True, reason='issue #6: at CPU scale the dynamic half of the '
                   'alignment collapses to uniform codes, so the dynamic claims fail '
                   '(docs/quickstart.md); strict, so that a fix shows up as a failure here '
                   'and this marker, the README and the docs get updated')
def test_ci_run_learns_dynamic_concepts(ci_report):
    checks = ci_report['checks']
    failed = {name: check['detail'] for name, check in checks.items() if not check['passed']}
    assert not failed, failed
