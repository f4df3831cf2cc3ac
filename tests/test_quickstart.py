"""The quick start's whole path on a few videos (numbers meaningless at this size), the
checks it reports (on hand-made results), and the learning claims on the ``ci`` preset, the
smallest run whose numbers mean something."""
import glob
import json
import math
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from sdc_mmaction.apis.code_parts import PARTS, format_code_parts, probe_dynamic_code_parts
from sdc_mmaction.apis.quickstart import (DISTRIBUTION_FEATURES, FEATURES, PRESETS,
                                          PRETRAIN_CONFIG, VARIANCE_FEATURES, VIEW_FEATURES,
                                          check_claims, check_distributions,
                                          check_feature_families, check_threads,
                                          default_threads, extract_all, extraction_clips,
                                          format_results, prepare_dataset,
                                          pretrain_frame_size, pretrain_sampling,
                                          run_quickstart, threads_granted, trained_config)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _probes(action_v, static, dynamic, motion):
    """Probe results with every feature at ``static[f]`` etc. (defaults 0.5)."""
    def row(values):
        return {f: values.get(f, 0.5)
                for f in FEATURES + DISTRIBUTION_FEATURES + VIEW_FEATURES}
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


def _pair(both, only_a, only_b, neither):
    """Per-video outcomes of two probes of 64 videos, and their accuracies."""
    a = [True] * (both + only_a) + [False] * (only_b + neither)
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    assert len(a) == len(b) == 64
    return a, b, sum(a) / 64, sum(b) / 64


def test_action_check_asks_for_a_paired_lead_beyond_chance():
    """The default preset's action check also asks the paired sign test: a 12.5-point
    lead on 64 videos made of 14 against 6 discordant videos (p = 0.058) is refused,
    the same lead made of 10 against 2 (p = 0.019) is not."""
    margins = dict(action_over_random=0.1, decoupling=0.05, action_p_value=0.05)

    def pair(both, only_sdc, only_random, neither):
        sdc, rand, sdc_acc, rand_acc = _pair(both, only_sdc, only_random, neither)
        sdc_res = dict(_probes(sdc_acc, {}, {}, {}), action_v_correct=sdc)
        rand_res = dict(_probes(rand_acc, {}, {}, {}), action_v_correct=rand)
        return check_claims(sdc_res, rand_res, margins)['beats_random_on_action']

    by_chance = pair(12, 14, 6, 32)  # 40.6 against 28.1
    assert not by_chance['passed']
    assert '40.6 vs 28.1' in by_chance['detail']
    assert 'only SDC right on 14, only random on 6, p = 0.058' in by_chance['detail']
    clear = pair(16, 10, 2, 36)  # 40.6 against 28.1 again, from fewer discordant videos
    assert clear['passed'], clear['detail']
    # without the test (the ci preset) only the lead counts
    no_test = dict(margins, action_p_value=None)
    res = dict(_probes(0.406, {}, {}, {}))
    assert check_claims(res, _probes(0.281, {}, {}, {}), no_test)[
        'beats_random_on_action']['passed']
    # asked for but impossible: say what is missing instead of passing or failing quietly
    with pytest.raises(KeyError, match='action_v_correct in the sdc results'):
        check_claims(res, _probes(0.281, {}, {}, {}), margins)


def _concept_correct(**rows):
    """``concept_correct`` with every probe wrong except the (label set, feature) given."""
    correct = {labels: {f: [False] * 64
                        for f in ('q_v_s', 'q_v_d', 'F_v_s', 'F_v_d', 'p_v_s', 'p_v_d')}
               for labels in ('static', 'dynamic', 'motion')}
    for key, outcomes in rows.items():
        labels, feature = key.split('__')
        correct[labels][feature] = outcomes
    return correct


def test_motion_only_check_asks_for_a_paired_lead_beyond_chance():
    """With ``decoupling_p_value`` the motion-only check also asks the paired sign test
    between the best dynamic and the best static feature on the same val videos: a
    6.3-point lead with both near chance (17 against 13 right of 64; 10 against 6
    discordant videos, p = 0.227) is refused, a lead from 12 against 2 (p = 0.006) is
    not, and the features compared are the best of each kind."""
    margins = dict(action_over_random=0.1, decoupling=0.05, decoupling_p_value=0.05)

    def check(both, only_dyn, only_sta, neither, decoupling=0.05):
        dyn, sta, dyn_acc, sta_acc = _pair(both, only_dyn, only_sta, neither)
        # F_v_d and q_v_s are the best of their kind; the others read 10 %
        res = dict(_probes(0.5, {}, {}, dict(q_v_d=0.1, F_v_d=dyn_acc, q_v_s=sta_acc,
                                             F_v_s=0.1)),
                   concept_correct=_concept_correct(motion__F_v_d=dyn, motion__q_v_s=sta))
        return check_claims(res, _probes(0.5, {}, {}, {}),
                            dict(margins, decoupling=decoupling))[
            'motion_only_dynamic_beats_static']

    by_chance = check(7, 10, 6, 41)  # 26.6 against 20.3
    assert not by_chance['passed']
    assert '26.6 vs 20.3' in by_chance['detail'] and '(F_v_d vs q_v_s)' in by_chance['detail']
    assert 'only F_v_d right on 10, only q_v_s on 6, p = 0.227' in by_chance['detail']
    clear = check(9, 12, 2, 41)  # 32.8 against 17.2
    assert clear['passed'], clear['detail']
    assert 'p = 0.006' in clear['detail']
    # the lead is still needed: the same significant pair fails a 20-point margin
    assert not check(9, 12, 2, 41, decoupling=0.2)['passed']
    with pytest.raises(KeyError, match='concept_correct in the sdc results'):
        check_claims(_probes(0.5, {}, {}, {}), _probes(0.5, {}, {}, {}), margins)


def test_scene_and_motion_checks_pair_one_feature_over_two_label_sets():
    """The static and dynamic checks pair one feature's probes on the scene and on the
    motion label of the same videos: 100 against 15.6 passes, a 7.8-point lead from 9
    against 4 discordant videos (p = 0.133) does not; without the level only the lead
    counts."""
    margins = dict(action_over_random=0.1, decoupling=0.05, decoupling_p_value=0.05)
    scene, motion, scene_acc, motion_acc = _pair(10, 54, 0, 0)  # 100 against 15.6
    dyn_motion, dyn_scene, dyn_motion_acc, dyn_scene_acc = _pair(10, 9, 4, 41)  # 29.7 / 21.9
    res = dict(_probes(0.5, dict(q_v_s=scene_acc, F_v_s=0.0, q_v_d=dyn_scene_acc, F_v_d=0.5),
                       dict(q_v_s=motion_acc, F_v_s=0.0, q_v_d=dyn_motion_acc, F_v_d=0.5),
                       {}),
               concept_correct=_concept_correct(
                   static__q_v_s=scene, dynamic__q_v_s=motion,
                   dynamic__q_v_d=dyn_motion, static__q_v_d=dyn_scene))
    checks = check_claims(res, _probes(0.5, {}, {}, {}), margins)
    static = checks['static_features_know_the_scene']
    assert static['passed'], static['detail']
    assert 'only the scene probe right on 54, only the motion probe on 0' in static['detail']
    dynamic = checks['dynamic_features_know_the_motion']
    assert not dynamic['passed']
    assert '29.7 vs 21.9' in dynamic['detail']
    assert 'only the motion probe right on 9, only the scene probe on 4, p = 0.133' in \
        dynamic['detail']
    no_test = check_claims(res, _probes(0.5, {}, {}, {}), dict(margins, decoupling_p_value=None))
    assert no_test['dynamic_features_know_the_motion']['passed']


def _reportable(res):
    """Hand-made results with the parts format_results prints besides the probes."""
    shares = {f: dict(static=0.5, dynamic=0.5) for f in VARIANCE_FEATURES}
    return dict(res, retrieval={}, codes={},
                variance=dict(shares, chance=dict(static=0.1, dynamic=0.1)))


def test_distribution_checks_ask_the_same_of_the_concept_distributions_only():
    """``check_distributions`` judges p_v^s / p_v^d alone: decoupled distributions pass
    while the paper's features fail the claims' checks, and distributions that read the
    scene fail; the paired test is asked of them as of the claims."""
    margins = dict(action_over_random=0.1, decoupling=0.05, decoupling_p_value=0.05)
    random = _probes(0.3, {}, {}, {})
    right, wrong, right_acc, wrong_acc = _pair(10, 40, 2, 12)  # 78.1 against 18.8
    # the paper's features all read the scene; the distributions read their own factor
    res = dict(_probes(0.5, dict(q_v_s=0.9, q_v_d=0.9, F_v_d=0.9, F_v_s=0.9,
                                 p_v_s=right_acc, p_v_d=wrong_acc),
                       dict(q_v_s=0.3, q_v_d=0.3, F_v_d=0.3, F_v_s=0.3,
                            p_v_s=wrong_acc, p_v_d=right_acc),
                       dict(q_v_s=0.5, q_v_d=0.3, F_v_d=0.3, F_v_s=0.5,
                            p_v_s=wrong_acc, p_v_d=right_acc)),
               concept_correct=_concept_correct(
                   static__p_v_s=right, dynamic__p_v_s=wrong, dynamic__p_v_d=right,
                   static__p_v_d=wrong, motion__p_v_d=right, motion__p_v_s=wrong))
    claims, dists = check_claims(res, random, margins), check_distributions(res, margins)
    assert not claims['dynamic_features_know_the_motion']['passed']
    assert not claims['motion_only_dynamic_beats_static']['passed']
    assert list(dists) == ['static_features_know_the_scene',
                           'dynamic_features_know_the_motion',
                           'motion_only_dynamic_beats_static']
    assert all(c['passed'] for c in dists.values()), dists
    assert 'SDC p_v_d: motion label vs scene label: 78.1 vs 18.8' in \
        dists['dynamic_features_know_the_motion']['detail']
    assert 'only the motion probe right on 40, only the scene probe on 2' in \
        dists['dynamic_features_know_the_motion']['detail']
    assert '(p_v_d vs p_v_s)' in dists['motion_only_dynamic_beats_static']['detail']
    # a dynamic distribution that reads the scene fails, whatever the paper's features do
    probes = res['probes']
    scene_reading = dict(res, probes=dict(
        probes, static=dict(probes['static'], p_v_d=right_acc),
        dynamic=dict(probes['dynamic'], p_v_d=wrong_acc)),
        concept_correct=_concept_correct(dynamic__p_v_d=wrong, static__p_v_d=right))
    assert not check_distributions(scene_reading, margins)[
        'dynamic_features_know_the_motion']['passed']
    with pytest.raises(KeyError, match='concept_correct'):
        check_distributions(_probes(0.5, {}, {}, {}), margins)
    table = format_results(_reportable(res), _reportable(random), claims, dists)
    claims_part, asked = table.split(
        '## The decoupling checks asked of the concept distributions')
    assert '- [x] dynamic_features_know_the_motion: SDC p_v_d' in asked
    assert '- [ ] dynamic_features_know_the_motion: SDC' in claims_part
    assert '| model | labels | p_v_s | p_v_d |' in claims_part
    # without them (an older caller), no such section
    assert 'asked of the concept distributions' not in format_results(
        _reportable(res), _reportable(random), claims)


def test_feature_family_checks_judge_the_codes_and_the_local_features_apart():
    """``check_feature_families`` asks the decoupling checks of the codes alone and of the
    local features alone: codes that decouple pass all three while local features that
    read the motion as well on both halves fail the motion-only check, as the claims do
    (their best static feature is ``F_v_s``)."""
    margins = dict(action_over_random=0.1, decoupling=0.05, decoupling_p_value=0.05)
    random = _probes(0.3, {}, {}, {})
    right, wrong, right_acc, wrong_acc = _pair(10, 40, 2, 12)  # 78.1 against 18.8
    res = dict(_probes(0.5, dict(q_v_s=right_acc, q_v_d=wrong_acc, F_v_s=0.9, F_v_d=0.9),
                       dict(q_v_s=wrong_acc, q_v_d=right_acc, F_v_s=0.3, F_v_d=0.3),
                       dict(q_v_s=wrong_acc, q_v_d=right_acc, F_v_s=right_acc,
                            F_v_d=right_acc)),
               concept_correct=_concept_correct(
                   static__q_v_s=right, dynamic__q_v_s=wrong, dynamic__q_v_d=right,
                   static__q_v_d=wrong, motion__q_v_d=right, motion__q_v_s=wrong,
                   motion__F_v_s=right, motion__F_v_d=right))
    claims = check_claims(res, random, margins)
    families = check_feature_families(res, margins)
    assert list(families) == ['codes', 'local_features']
    assert all(c['passed'] for c in families['codes'].values()), families['codes']
    assert 'motion-only variant: dynamic vs static feature (q_v_d vs q_v_s)' in families[
        'codes']['motion_only_dynamic_beats_static']['detail']
    local = families['local_features']
    assert not local['motion_only_dynamic_beats_static']['passed']
    assert '78.1 vs 78.1' in local['motion_only_dynamic_beats_static']['detail']
    assert not claims['motion_only_dynamic_beats_static']['passed']
    assert 'best dynamic vs best static feature (q_v_d vs F_v_s)' in claims[
        'motion_only_dynamic_beats_static']['detail']
    # the codes alone fail when they read the motion no better than the static codes
    probes = res['probes']
    flat = dict(res, probes=dict(probes, motion=dict(probes['motion'], q_v_s=right_acc)),
                concept_correct=dict(res['concept_correct'], motion=dict(
                    res['concept_correct']['motion'], q_v_s=right)))
    assert not check_feature_families(flat, margins)['codes'][
        'motion_only_dynamic_beats_static']['passed']
    table = format_results(_reportable(res), _reportable(random), claims, None, families)
    claims_part, asked = table.split(
        '## The decoupling checks asked of each kind of concept feature')
    assert '- [ ] motion_only_dynamic_beats_static' in claims_part
    codes_part, local_part = asked.split('local_features (F_v_s, F_v_d):')
    assert 'codes (q_v_s, q_v_d):' in codes_part
    assert '- [x] motion_only_dynamic_beats_static' in codes_part
    assert '- [ ] motion_only_dynamic_beats_static' in local_part
    assert 'each kind of concept feature' not in format_results(
        _reportable(res), _reportable(random), claims)


def test_quickstart_smoke_runs_every_step(tmp_path, tool_runner):
    work_dir = str(tmp_path / 'qs')
    report = run_quickstart(work_dir, preset='smoke')
    for model in ('sdc', 'random'):
        probes = report[model]['probes']
        assert list(probes) == ['action', 'static', 'dynamic', 'motion']
        for row in probes.values():
            assert list(row) == list(FEATURES + DISTRIBUTION_FEATURES + VIEW_FEATURES)
            assert all(0.0 <= acc <= 1.0 for acc in row.values())
        assert list(report[model]['retrieval']) == ['R@1', 'R@5', 'R@10']
        # the outcomes behind the paired tests agree with the accuracies
        correct = report[model]['concept_correct']
        assert list(correct) == ['static', 'dynamic', 'motion']
        for labels, row in correct.items():
            assert list(row) == ['q_v_s', 'q_v_d', 'F_v_s', 'F_v_d', 'p_v_s', 'p_v_d']
            for feature, outcomes in row.items():
                assert probes[labels][feature] == pytest.approx(sum(outcomes) / len(outcomes))
        assert probes['action']['v'] == pytest.approx(
            sum(report[model]['action_v_correct']) / len(report[model]['action_v_correct']))
        codes = report[model]['codes']
        assert list(codes) == ['q_v_s', 'q_v_d']
        for stats in codes.values():
            assert 0.0 <= stats['target_entropy'] <= stats['uniform_entropy'] + 1e-9
            assert stats['uniform_entropy'] == pytest.approx(math.log(8))
            assert 0.0 <= stats['nmi_static'] <= 1.0 and 0.0 <= stats['nmi_dynamic'] <= 1.0
    assert set(report['checks']) == {
        'beats_random_on_action', 'static_features_know_the_scene',
        'dynamic_features_know_the_motion', 'motion_only_dynamic_beats_static'}
    assert list(report['distribution_checks']) == list(report['checks'])[1:]
    assert list(report['family_checks']) == ['codes', 'local_features']
    for family_checks in report['family_checks'].values():
        assert list(family_checks) == list(report['checks'])[1:]
    for name in ('attention', 'code_similarity', 'loss_curves'):
        with open(report['figures'][name], 'rb') as handle:
            assert handle.read(8) == b'\x89PNG\r\n\x1a\n'
    assert osp.isfile(report['backbone'])
    with open(osp.join(work_dir, 'results.json')) as handle:
        assert json.load(handle)['checks'] == report['checks']
    table = open(osp.join(work_dir, 'results.md')).read()
    assert '| SDC | action |' in table and '| random | motion |' in table
    assert '| SDC | q_v_d |' in table and '| random | q_v_s |' in table
    for model in ('sdc', 'random'):
        shares = report[model]['variance']
        assert list(shares) == ['v', 'q_v_s', 'q_v_d', 'p_v_s', 'p_v_d', 'F_v_s', 'F_v_d',
                                's', 'q_s', 'd', 'q_d', 'chance']
        assert all(0.0 <= x <= 1.0 for row in shares.values() for x in row.values())
    # smoke: 2 scenes, 3 training videos per (scene, motion) pair
    assert report['sdc']['variance']['chance'] == dict(static=1 / 11, dynamic=1 / 11)
    share = report['sdc']['variance']['q_v_d']
    assert f'| SDC | {100 * report["sdc"]["variance"]["v"]["static"]:.1f} / ' in table
    assert f'{100 * share["static"]:.1f} / {100 * share["dynamic"]:.1f}' in table
    views_table = table.split("## The static frame's and the frame difference's own")[1]
    assert '| model | labels | s | q_s | d | q_d |' in views_table
    scene_d = report['sdc']['probes']['static']['d']
    assert f'{100 * scene_d:.1f} |' in views_table.split('| SDC | static |')[1].split('\n')[0]

    # a second run reuses the dataset and the checkpoint, and gives the same numbers
    again = run_quickstart(work_dir, preset='smoke', figures=False)
    assert again['sdc'] == report['sdc'] and again['random'] == report['random']
    with pytest.raises(FileExistsError, match='other options'):
        run_quickstart(work_dir, preset='default', figures=False)
    # the checkpoint of one pretraining is never reused for other settings
    with pytest.raises(FileExistsError, match='other settings'):
        run_quickstart(work_dir, preset='smoke', figures=False,
                       cfg_options=['model.align_head.diversity_weight=0'])
    with pytest.raises(FileExistsError, match='other settings'):
        run_quickstart(work_dir, preset='smoke', figures=False, max_epochs=2)

    # the parts of q_v^d, probed from the finished run by the tool (it checks that the
    # codes it recomputes from v are the model's)
    proc = tool_runner(['tools/probe_code_parts.py', work_dir])
    assert '| part of q_v^d | scene | motion |' in proc.stdout
    with open(osp.join(work_dir, 'code_parts.json')) as handle:
        parts = json.load(handle)
    assert list(parts) == list(PARTS)
    assert all(0.0 <= acc <= 1.0 for row in parts.values() for acc in row.values())
    assert open(osp.join(work_dir, 'code_parts.md')).read() == format_code_parts(parts) + '\n'
    with pytest.raises(FileNotFoundError, match='results.json'):
        probe_dynamic_code_parts(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='no_data'):
        probe_dynamic_code_parts(work_dir, data_root=str(tmp_path / 'no_data'))

    # one variant alone is extracted without the other's videos
    data_root = osp.join(work_dir, 'data')
    with open(osp.join(data_root, 'meta.json')) as handle:
        meta = json.load(handle)
    only = extract_all(None, data_root, meta, 1, 'random', variants=('motion_only', ))
    assert set(only) == {('motion_only', 'train'), ('motion_only', 'val'), 'model'}
    assert list(only[('motion_only', 'val')][1]) == ['motion']
    for variants in ((), ('scenes', 'motion')):
        with pytest.raises(ValueError, match='variants'):
            extract_all(None, data_root, meta, 1, 'random', variants=variants)


def test_quickstart_runs_another_config_with_overrides(tmp_path):
    """The diagnostic config through the same path: the overrides reach the training,
    and the evaluation builds the model that was trained."""
    config = osp.join(REPO, 'configs', 'diagnostics',
                      'sdc-label-targets_r2plus1d-tiny_synthetic.py')
    work_dir = str(tmp_path / 'labels')
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # not the 1 asked for below, so the check after can fail
    report = run_quickstart(work_dir, preset='smoke', figures=False, config=config,
                            max_epochs=2, cfg_options=['model.align_head.diversity_weight=0'],
                            seed=1, data_seed=0, threads=1)
    after = torch.get_num_threads()
    torch.set_num_threads(threads)
    assert report['max_epochs'] == 2 and report['checkpoint'].endswith('epoch_2.pth')
    assert report['config'] == config
    # another pretraining seed on the dataset of seed 0
    assert (report['seed'], report['data_seed']) == (1, 0)
    with open(osp.join(work_dir, 'data', 'meta.json')) as handle:
        assert json.load(handle)['seed'] == 0
    with open(osp.join(work_dir, 'pretrain', 'quickstart_pretrain.json')) as handle:
        recorded = json.load(handle)
    assert (recorded['seed'], recorded['threads']) == (1, 1)
    assert (report['threads'], report['pretrain_threads']) == (1, 1)
    assert after == 2  # the caller's count is given back
    trained = Config.fromfile(trained_config(osp.join(work_dir, 'pretrain'), config))
    assert trained.model.align_head.type == 'LabelTargetAlignHead'
    assert trained.model.align_head.diversity_weight == 0
    assert trained.train_dataloader.dataset.ann_file == 'annotations/train_dynamic.txt'
    logs = glob.glob(osp.join(work_dir, 'pretrain', '*', 'vis_data', 'scalars.json'))
    records = [json.loads(line) for line in open(logs[0]) if line.strip()]
    assert records and all(r['loss_div'] == 0 for r in records if 'loss_div' in r)
    # with the label targets, the dynamic half is a 4-class cross-entropy, not Eq. 4's
    # two-way term (about 2 ln 8 at the start)
    assert all(r['aln_dynamic'] < 3 for r in records if 'aln_dynamic' in r)
    table = open(osp.join(work_dir, 'results.md')).read()
    assert table.startswith('Pretrained with configs/diagnostics/sdc-label-targets')
    assert 'seed 1' in table
    assert 'overrides: model.align_head.diversity_weight=0' in table
    assert 'CPU threads: 1 for the pretraining, 1 for the evaluation' in table
    with pytest.raises(ValueError, match='key=value'):
        run_quickstart(str(tmp_path / 'bad'), preset='smoke', cfg_options=['diversity'])
    assert not osp.exists(tmp_path / 'bad' / 'data')  # refused before generating anything
    with pytest.raises(ValueError, match='threads must be a positive integer, got 0'):
        run_quickstart(str(tmp_path / 'bad'), preset='smoke', threads=0)
    assert not osp.exists(tmp_path / 'bad' / 'data')
    with pytest.raises(FileNotFoundError, match='no_such.py'):
        run_quickstart(str(tmp_path / 'bad'), preset='smoke', config='no_such.py')


def test_default_threads_is_what_a_new_process_starts_with(monkeypatch):
    """The pretraining record's thread count when none is given: a child's default,
    set by the environment, not by this process's own torch.set_num_threads."""
    threads = torch.get_num_threads()
    monkeypatch.setenv('OMP_NUM_THREADS', '1')  # torch caps larger counts at the cores
    torch.set_num_threads(2)
    try:
        assert default_threads() == 1
    finally:
        torch.set_num_threads(threads)
    with pytest.raises(ValueError, match="threads must be a positive integer, got '2'"):
        check_threads('2')


def test_threads_above_the_cpu_count_are_capped_alike(monkeypatch, capsys):
    """The evaluation gets the count the pretraining child gets (torch caps the child's
    OMP_NUM_THREADS at the CPU count, but not this process's set_num_threads), and the
    cap is said."""
    assert threads_granted(1) == 1
    assert 1 <= threads_granted(4096) <= os.cpu_count()
    import sdc_mmaction.apis.quickstart as quickstart
    seen = {}
    monkeypatch.setattr(quickstart, 'threads_granted', lambda threads: 1)
    monkeypatch.setattr(quickstart, '_run_quickstart',
                        lambda *args: seen.update(inner=torch.get_num_threads(), args=args))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # neither the 5 asked for nor the 1 granted
    try:
        run_quickstart('unused', preset='smoke', threads=5)
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)
    assert seen['inner'] == 1 and seen['args'][-1] == 5 and after == 2
    assert 'asked for 5 CPU threads; this machine gives 1' in capsys.readouterr().out


def test_features_are_extracted_like_the_pretraining_clips():
    assert pretrain_sampling(PRETRAIN_CONFIG) == dict(clip_len=8, frame_interval=2)


def test_features_are_extracted_at_the_pretraining_frame_size(tmp_path):
    """32 px videos under a config that trains on 64 px frames (the smoke preset's) are
    upsampled for their features too; videos of the training size are taken as they
    are."""
    assert pretrain_frame_size(PRETRAIN_CONFIG) == 64
    small = dict(options=dict(height=32, width=32))
    native = dict(options=dict(height=64, width=64))
    assert extraction_clips(PRETRAIN_CONFIG, small) == dict(
        clip_len=8, frame_interval=2, resize=64, crop_size=64)
    assert extraction_clips(PRETRAIN_CONFIG, native)['resize'] is None
    # the ci preset's own config trains at 32 px
    assert extraction_clips(PRESETS['ci']['config'], small) == dict(
        clip_len=8, frame_interval=2, resize=None, crop_size=32)
    config = tmp_path / 'keeps_ratio.py'
    config.write_text(f"_base_ = ['{PRETRAIN_CONFIG}']\n"
                      "train_dataloader = dict(dataset=dict(pipeline=[\n"
                      "    dict(type='SampleFrames', clip_len=9),\n"
                      "    dict(type='Resize', scale=(-1, 64))]))\n")
    with pytest.raises(ValueError, match=r'keeps_ratio.py.*square frames'):
        pretrain_frame_size(str(config))


# ci_quickstart_report (conftest.py): tools/quickstart.py --preset ci, run in the background
# with one thread while the other tests run; these tests run last
def test_ci_run_learns_static_concepts(ci_quickstart_report):
    """The static codes of the clip learn the scene rather than the motion (margin 10
    points, 4 scenes x 4 motions)."""
    check = ci_quickstart_report['checks']['static_features_know_the_scene']
    assert check['passed'], check['detail']
    assert ci_quickstart_report['sdc']['probes']['static']['q_v_s'] >= 0.9


def test_ci_run_learns_dynamic_concepts(ci_quickstart_report):
    """Every claim of the quick start, with the ci preset's margins: SDC beats the random
    model on the action label, the dynamic features read the motion better than the
    scene, and on the motion-only videos the dynamic features beat the static ones."""
    checks = ci_quickstart_report['checks']
    failed = {name: check['detail'] for name, check in checks.items() if not check['passed']}
    # at this size about half the seeds meet every check, so a change to the order of
    # floating-point operations alone can make a run that misses one
    assert not failed, (f'{failed}; after a change that should not alter what is '
                        'learned, run the default preset before judging the code '
                        '(docs/quickstart.md, "Eighteenth round")')
    assert ci_quickstart_report['pretrain_threads'] == ci_quickstart_report['threads']


def test_a_dataset_from_before_an_option_counts_as_its_default(tmp_path):
    """meta.json written before ``hue_amplitude`` existed holds a dataset made at the
    default: reused when the default is asked for, refused for another value; and a
    folder made with another value is refused when the caller does not name the option."""
    root = tmp_path / 'data'
    root.mkdir()
    meta = dict(seed=0, options=dict(num_static=4, height=64, width=64))
    (root / 'meta.json').write_text(json.dumps(meta))
    reused = prepare_dataset(str(root), dict(num_static=4, size=64, hue_amplitude=36.0))
    assert reused['root'] == str(root)
    with pytest.raises(FileExistsError, match=r"wanted \{'hue_amplitude': 12.0\}, found "
                                              r"\{'hue_amplitude': 36.0\}"):
        prepare_dataset(str(root), dict(num_static=4, size=64, hue_amplitude=12.0))
    # an option the caller leaves out still counts, at its default
    meta['options']['hue_amplitude'] = 12.0
    (root / 'meta.json').write_text(json.dumps(meta))
    with pytest.raises(FileExistsError, match=r"wanted \{'hue_amplitude': 36.0\}"):
        prepare_dataset(str(root), dict(num_static=4, size=64))
    assert prepare_dataset(str(root), dict(num_static=4, size=64, hue_amplitude=12))
