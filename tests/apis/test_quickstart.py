"""The quick start's whole path on a few videos (numbers meaningless at this size), its
report, and the checks of the claims (on hand-made results)."""
import json
import os
import os.path as osp

import pytest
import torch

from quickstart_helpers import concept_outcomes, paired_outcomes, probe_results
from sdc_mmaction.apis.quickstart import (DISTRIBUTION_FEATURES, FEATURES, PRETRAIN_CONFIG,
                                          VIEW_FEATURES, check_claims, check_threads,
                                          default_threads, extract_all, extraction_clips,
                                          prepare_dataset, pretrain_frame_size,
                                          pretrain_sampling, run_quickstart,
                                          threads_granted)


def test_check_claims_pass_and_fail():
    margins = dict(action_over_random=0.1, decoupling=0.05)
    random = probe_results(0.30, {}, {}, {})
    good = probe_results(0.60, dict(q_v_s=0.9, q_v_d=0.4), dict(q_v_s=0.3, q_v_d=0.8),
                   dict(q_v_s=0.3, q_v_d=0.9))
    checks = check_claims(good, random, margins)
    assert all(c['passed'] for c in checks.values()), checks
    bad = probe_results(0.35, dict(q_v_s=0.9, q_v_d=0.9, F_v_d=0.9),
                  dict(q_v_s=0.3, q_v_d=0.3, F_v_d=0.3), dict(q_v_d=0.2, F_v_d=0.2))
    checks = check_claims(bad, random, margins)
    assert not checks['beats_random_on_action']['passed']  # 5 points < 10 needed
    assert checks['static_features_know_the_scene']['passed']
    assert not checks['dynamic_features_know_the_motion']['passed']
    assert not checks['motion_only_dynamic_beats_static']['passed']
    assert '35.0 vs 30.0' in checks['beats_random_on_action']['detail']


def test_action_check_asks_for_a_paired_lead_beyond_chance():
    """The default preset's action check also asks the paired sign test: a 12.5-point
    lead on 64 videos made of 14 against 6 discordant videos (p = 0.058) is refused,
    the same lead made of 10 against 2 (p = 0.019) is not."""
    margins = dict(action_over_random=0.1, decoupling=0.05, action_p_value=0.05)

    def pair(both, only_sdc, only_random, neither):
        sdc, rand, sdc_acc, rand_acc = paired_outcomes(both, only_sdc, only_random, neither)
        sdc_res = dict(probe_results(sdc_acc, {}, {}, {}), action_v_correct=sdc)
        rand_res = dict(probe_results(rand_acc, {}, {}, {}), action_v_correct=rand)
        return check_claims(sdc_res, rand_res, margins)['beats_random_on_action']

    by_chance = pair(12, 14, 6, 32)  # 40.6 against 28.1
    assert not by_chance['passed']
    assert '40.6 vs 28.1' in by_chance['detail']
    assert 'only SDC right on 14, only random on 6, p = 0.058' in by_chance['detail']
    clear = pair(16, 10, 2, 36)  # 40.6 against 28.1 again, from fewer discordant videos
    assert clear['passed'], clear['detail']
    # without the test (the ci preset) only the lead counts
    no_test = dict(margins, action_p_value=None)
    res = dict(probe_results(0.406, {}, {}, {}))
    assert check_claims(res, probe_results(0.281, {}, {}, {}), no_test)[
        'beats_random_on_action']['passed']
    # asked for but impossible: say what is missing instead of passing or failing quietly
    with pytest.raises(KeyError, match='action_v_correct in the sdc results'):
        check_claims(res, probe_results(0.281, {}, {}, {}), margins)


def test_motion_only_check_asks_for_a_paired_lead_beyond_chance():
    """With ``decoupling_p_value`` the motion-only check also asks the paired sign test
    between the best dynamic and the best static feature on the same val videos: a
    6.3-point lead with both near chance (17 against 13 right of 64; 10 against 6
    discordant videos, p = 0.227) is refused, a lead from 12 against 2 (p = 0.006) is
    not, and the features compared are the best of each kind."""
    margins = dict(action_over_random=0.1, decoupling=0.05, decoupling_p_value=0.05)

    def check(both, only_dyn, only_sta, neither, decoupling=0.05):
        dyn, sta, dyn_acc, sta_acc = paired_outcomes(both, only_dyn, only_sta, neither)
        # F_v_d and q_v_s are the best of their kind; the others read 10 %
        res = dict(probe_results(0.5, {}, {}, dict(q_v_d=0.1, F_v_d=dyn_acc, q_v_s=sta_acc,
                                             F_v_s=0.1)),
                   concept_correct=concept_outcomes(motion__F_v_d=dyn, motion__q_v_s=sta))
        return check_claims(res, probe_results(0.5, {}, {}, {}),
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
        check_claims(probe_results(0.5, {}, {}, {}), probe_results(0.5, {}, {}, {}), margins)


def test_scene_and_motion_checks_pair_one_feature_over_two_label_sets():
    """The static and dynamic checks pair one feature's probes on the scene and on the
    motion label of the same videos: 100 against 15.6 passes, a 7.8-point lead from 9
    against 4 discordant videos (p = 0.133) does not; without the level only the lead
    counts."""
    margins = dict(action_over_random=0.1, decoupling=0.05, decoupling_p_value=0.05)
    scene, motion, scene_acc, motion_acc = paired_outcomes(10, 54, 0, 0)  # 100 against 15.6
    dyn_motion, dyn_scene, dyn_motion_acc, dyn_scene_acc = paired_outcomes(10, 9, 4, 41)  # 29.7 / 21.9
    res = dict(probe_results(0.5, dict(q_v_s=scene_acc, F_v_s=0.0, q_v_d=dyn_scene_acc, F_v_d=0.5),
                       dict(q_v_s=motion_acc, F_v_s=0.0, q_v_d=dyn_motion_acc, F_v_d=0.5),
                       {}),
               concept_correct=concept_outcomes(
                   static__q_v_s=scene, dynamic__q_v_s=motion,
                   dynamic__q_v_d=dyn_motion, static__q_v_d=dyn_scene))
    checks = check_claims(res, probe_results(0.5, {}, {}, {}), margins)
    static = checks['static_features_know_the_scene']
    assert static['passed'], static['detail']
    assert 'only the scene probe right on 54, only the motion probe on 0' in static['detail']
    dynamic = checks['dynamic_features_know_the_motion']
    assert not dynamic['passed']
    assert '29.7 vs 21.9' in dynamic['detail']
    assert 'only the motion probe right on 9, only the scene probe on 4, p = 0.133' in \
        dynamic['detail']
    no_test = check_claims(res, probe_results(0.5, {}, {}, {}), dict(margins, decoupling_p_value=None))
    assert no_test['dynamic_features_know_the_motion']['passed']


def test_quickstart_smoke_runs_every_step(tmp_path, capsys):
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
    assert set(report['checks']) == {
        'beats_random_on_action', 'static_features_know_the_scene',
        'dynamic_features_know_the_motion', 'motion_only_dynamic_beats_static'}
    # the tiny model's 2 x 2 feature map is too coarse for an attention picture
    assert list(report['figures']) == ['code_similarity', 'loss_curves']
    for path in report['figures'].values():
        with open(path, 'rb') as handle:
            assert handle.read(8) == b'\x89PNG\r\n\x1a\n'
    out = capsys.readouterr().out
    assert 'concept attention not drawn: the feature map has 2 x 2 locations' in out
    assert osp.isfile(report['backbone'])
    with open(osp.join(work_dir, 'results.json')) as handle:
        assert json.load(handle)['checks'] == report['checks']
    table = open(osp.join(work_dir, 'results.md')).read()
    # the report opens with the compact table and the claims, as printed
    summary = table.split('## Linear probe, top-1 (%) on the val videos')[0]
    assert summary.startswith('CPU threads: ')
    assert '| labels | SDC v | SDC q_v_s | SDC q_v_d | random v | random q_v_s | random q_v_d |' \
        in summary
    probes = report['sdc']['probes']
    assert (f'| motion, one scene | {100 * probes["motion"]["v"]:.1f} | '
            f'{100 * probes["motion"]["q_v_s"]:.1f} | ') in summary
    held = sum(check['passed'] for check in report['checks'].values())
    assert f'## Claims: {held} of 4 hold' in summary
    assert summary.strip() in out
    assert '| SDC | action |' in table and '| random | motion |' in table
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
    config = tmp_path / 'keeps_ratio.py'
    config.write_text(f"_base_ = ['{PRETRAIN_CONFIG}']\n"
                      "train_dataloader = dict(dataset=dict(pipeline=[\n"
                      "    dict(type='SampleFrames', clip_len=9),\n"
                      "    dict(type='Resize', scale=(-1, 64))]))\n")
    with pytest.raises(ValueError, match=r'keeps_ratio.py.*square frames'):
        pretrain_frame_size(str(config))


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
