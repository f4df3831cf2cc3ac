"""The study through the quick start's path: a study config with overrides, the
diagnostics of a finished run (codes, variance shares, the checks asked of the concept
distributions and of each kind of concept feature), the code-part probe, and the
CI-size claim run (opt-in: SDC_RUN_SLOW=1)."""
import glob
import json
import math
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import REPO_ROOT
from projects.cpu_scale_study.cpu_scale_study.apis.code_parts import (
    PARTS, format_code_parts, probe_dynamic_code_parts)
from projects.cpu_scale_study.cpu_scale_study.apis.quickstart_diagnostics import (
    VARIANCE_FEATURES, check_distributions, check_feature_families, format_diagnostics)
from quickstart_helpers import concept_outcomes, paired_outcomes, probe_results
from sdc_mmaction.apis.quickstart import (check_claims, extraction_clips, run_quickstart,
                                          trained_config)

STUDY = osp.join(REPO_ROOT, 'projects', 'cpu_scale_study')
REPO = REPO_ROOT


def _reportable(res):
    """Hand-made results with the parts format_diagnostics prints besides the checks."""
    shares = {f: dict(static=0.5, dynamic=0.5) for f in VARIANCE_FEATURES}
    return dict(res, codes={}, variance=dict(shares, chance=dict(static=0.1, dynamic=0.1)))


def test_distribution_checks_ask_the_same_of_the_concept_distributions_only():
    """``check_distributions`` judges p_v^s / p_v^d alone: decoupled distributions pass
    while the paper's features fail the claims' checks, and distributions that read the
    scene fail; the paired test is asked of them as of the claims."""
    margins = dict(action_over_random=0.1, decoupling=0.05, decoupling_p_value=0.05)
    random = probe_results(0.3, {}, {}, {})
    right, wrong, right_acc, wrong_acc = paired_outcomes(10, 40, 2, 12)  # 78.1 against 18.8
    # the paper's features all read the scene; the distributions read their own factor
    res = dict(probe_results(0.5, dict(q_v_s=0.9, q_v_d=0.9, F_v_d=0.9, F_v_s=0.9,
                                 p_v_s=right_acc, p_v_d=wrong_acc),
                       dict(q_v_s=0.3, q_v_d=0.3, F_v_d=0.3, F_v_s=0.3,
                            p_v_s=wrong_acc, p_v_d=right_acc),
                       dict(q_v_s=0.5, q_v_d=0.3, F_v_d=0.3, F_v_s=0.5,
                            p_v_s=wrong_acc, p_v_d=right_acc)),
               concept_correct=concept_outcomes(
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
        concept_correct=concept_outcomes(dynamic__p_v_d=wrong, static__p_v_d=right))
    assert not check_distributions(scene_reading, margins)[
        'dynamic_features_know_the_motion']['passed']
    with pytest.raises(KeyError, match='concept_correct'):
        check_distributions(probe_results(0.5, {}, {}, {}), margins)
    table = format_diagnostics(dict(sdc=_reportable(res), random=_reportable(random),
                                    distribution_checks=dists))
    asked = table.split('## The decoupling checks asked of the concept distributions')[1]
    assert '- [x] dynamic_features_know_the_motion: SDC p_v_d' in asked
    # without them, no such section
    assert 'asked of the concept distributions' not in format_diagnostics(
        dict(sdc=_reportable(res), random=_reportable(random)))


def test_feature_family_checks_judge_the_codes_and_the_local_features_apart():
    """``check_feature_families`` asks the decoupling checks of the codes alone and of the
    local features alone: codes that decouple pass all three while local features that
    read the motion as well on both halves fail the motion-only check, as the claims do
    (their best static feature is ``F_v_s``)."""
    margins = dict(action_over_random=0.1, decoupling=0.05, decoupling_p_value=0.05)
    random = probe_results(0.3, {}, {}, {})
    right, wrong, right_acc, wrong_acc = paired_outcomes(10, 40, 2, 12)  # 78.1 against 18.8
    res = dict(probe_results(0.5, dict(q_v_s=right_acc, q_v_d=wrong_acc, F_v_s=0.9, F_v_d=0.9),
                       dict(q_v_s=wrong_acc, q_v_d=right_acc, F_v_s=0.3, F_v_d=0.3),
                       dict(q_v_s=wrong_acc, q_v_d=right_acc, F_v_s=right_acc,
                            F_v_d=right_acc)),
               concept_correct=concept_outcomes(
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
    table = format_diagnostics(dict(sdc=_reportable(res), random=_reportable(random),
                                    family_checks=families))
    asked = table.split('## The decoupling checks asked of each kind of concept feature')[1]
    codes_part, local_part = asked.split('local_features (F_v_s, F_v_d):')
    assert 'codes (q_v_s, q_v_d):' in codes_part
    assert '- [x] motion_only_dynamic_beats_static' in codes_part
    assert '- [ ] motion_only_dynamic_beats_static' in local_part
    assert 'each kind of concept feature' not in format_diagnostics(
        dict(sdc=_reportable(res), random=_reportable(random)))


def test_quickstart_runs_another_config_with_overrides(tmp_path):
    """The diagnostic config through the same path: the overrides reach the training,
    and the evaluation builds the model that was trained."""
    config = osp.join(STUDY, 'configs', 'sdc-label-targets_r2plus1d-tiny_synthetic.py')
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
    assert table.startswith('Pretrained with projects/cpu_scale_study/configs/sdc-label-targets')
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


@pytest.fixture(scope='module')
def smoke_run(tmp_path_factory):
    """A finished quick start of the smoke preset (its numbers mean nothing)."""
    work_dir = str(tmp_path_factory.mktemp('study_smoke') / 'qs')
    run_quickstart(work_dir, preset='smoke', figures=False)
    return work_dir


def test_code_diagnostics_of_a_finished_run(smoke_run, tool_runner, tmp_path):
    proc = tool_runner(['projects/cpu_scale_study/tools/code_diagnostics.py', smoke_run])
    assert '## Concept codes of the training videos' in proc.stdout
    with open(osp.join(smoke_run, 'diagnostics.json')) as handle:
        result = json.load(handle)
    for model in ('sdc', 'random'):
        codes = result[model]['codes']
        assert list(codes) == ['q_v_s', 'q_v_d']
        for stats in codes.values():
            assert 0.0 <= stats['target_entropy'] <= stats['uniform_entropy'] + 1e-9
            assert stats['uniform_entropy'] == pytest.approx(math.log(8))
            assert 0.0 <= stats['nmi_static'] <= 1.0 and 0.0 <= stats['nmi_dynamic'] <= 1.0
        shares = result[model]['variance']
        assert list(shares) == list(VARIANCE_FEATURES) + ['chance']
        assert all(0.0 <= x <= 1.0 for row in shares.values() for x in row.values())
    # smoke: 2 scenes, 3 training videos per (scene, motion) pair
    assert result['sdc']['variance']['chance'] == dict(static=1 / 11, dynamic=1 / 11)
    checks = ['static_features_know_the_scene', 'dynamic_features_know_the_motion',
              'motion_only_dynamic_beats_static']
    assert list(result['distribution_checks']) == checks
    assert list(result['family_checks']) == ['codes', 'local_features']
    table = open(osp.join(smoke_run, 'diagnostics.md')).read()
    share = result['sdc']['variance']['q_v_d']
    assert f'{100 * share["static"]:.1f} / {100 * share["dynamic"]:.1f}' in table
    with pytest.raises(FileNotFoundError, match='results.json'):
        from projects.cpu_scale_study.cpu_scale_study.apis.quickstart_diagnostics import \
            diagnose_quickstart
        diagnose_quickstart(str(tmp_path / 'empty'))


def test_code_parts_of_a_finished_run(smoke_run, tool_runner, tmp_path):
    """The parts of q_v^d, probed by the tool (it checks that the codes it recomputes
    from v are the model's)."""
    proc = tool_runner(['projects/cpu_scale_study/tools/probe_code_parts.py', smoke_run])
    assert '| part of q_v^d | scene | motion |' in proc.stdout
    with open(osp.join(smoke_run, 'code_parts.json')) as handle:
        parts = json.load(handle)
    assert list(parts) == list(PARTS)
    assert all(0.0 <= acc <= 1.0 for row in parts.values() for acc in row.values())
    assert open(osp.join(smoke_run, 'code_parts.md')).read() == \
        format_code_parts(parts) + '\n'
    with pytest.raises(FileNotFoundError, match='results.json'):
        probe_dynamic_code_parts(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='no_data'):
        probe_dynamic_code_parts(smoke_run, data_root=str(tmp_path / 'no_data'))


def test_the_32px_config_is_extracted_at_its_own_size():
    small = dict(options=dict(height=32, width=32))
    config = osp.join(STUDY, 'configs', 'sdc-two-tower_r2plus1d-tiny-32px_synthetic.py')
    assert extraction_clips(config, small) == dict(clip_len=8, frame_interval=2,
                                                   resize=None, crop_size=32)


# ------------------------------------------------------------- the CI-size claim run
#: The two-tower variant at CI size meets every claim on about half the seeds, so this is
#: an opt-in regression check of one seed whose run met them (about six minutes with one
#: thread), not evidence for the method; the README reports the runs over seeds.
CLAIM_RUN_SEED = 1
#: the run's numbers depend on the order of floating-point operations; these pin the CPU
#: kernels to AVX2 so that machines with other x86 CPUs make the same run
CLAIM_RUN_ENV = dict(ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2', MKL_CBWR='AVX2')


@pytest.fixture(scope='module')
def ci_quickstart_report(tmp_path_factory, tool_runner):
    """The report of the two-tower variant's CI-size quick start (SDC_RUN_SLOW=1)."""
    if os.environ.get('SDC_RUN_SLOW') != '1':
        pytest.skip('the CI-size claim run takes minutes; set SDC_RUN_SLOW=1 to run it')
    work_dir = str(tmp_path_factory.mktemp('claim_run'))
    tool_runner(['tools/quickstart.py', '--preset', 'ci', '--config',
                 osp.join(STUDY, 'configs', 'sdc-two-tower_r2plus1d-tiny-32px_synthetic.py'),
                 '--seed', str(CLAIM_RUN_SEED), '--work-dir', work_dir, '--threads', '1',
                 '--no-figures'], env=CLAIM_RUN_ENV, timeout=1800)
    with open(osp.join(work_dir, 'results.json')) as handle:
        return json.load(handle)


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
                        '(../README.md, "What fixes it")')
    assert ci_quickstart_report['pretrain_threads'] == ci_quickstart_report['threads']
