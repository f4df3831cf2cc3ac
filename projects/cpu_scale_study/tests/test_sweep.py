"""projects/cpu_scale_study/tools/sweep.py and projects/cpu_scale_study/tools/device/run_sweep.sh: reading the training logs (onset of the
label term, the share of iterations with L_loc on), checking sweep files, the GPU sweep of
issue #6 building and running every model it names, and a two-run sweep end to end on the
smoke dataset, through the script a GPU machine without network access runs."""
import argparse
import json
import math
import os
import os.path as osp
import random
import subprocess
import sys
import tarfile
import time

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import projects.cpu_scale_study.cpu_scale_study  # noqa: F401  (registration)
from conftest import REPO_ROOT
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from sdc_mmaction.apis.config_options import merge_cfg_options
from sdc_mmaction.apis.quickstart import PRESETS, prepare_dataset
from projects.cpu_scale_study.cpu_scale_study.apis.sweep import (format_summary, load_sweep, onset, run_sweep,
                                     summarise_log, summarise_sweep)

REPO = REPO_ROOT
GPU_SWEEP = osp.join(REPO, 'projects', 'cpu_scale_study', 'configs', 'sweeps', 'gpu_sweep.py')
TINY = 'configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'


def reference_onset(values, threshold, window_records):
    """Logged every few iterations: the first record whose last ``window_records``
    records (itself included) average below ``threshold``."""
    for i in range(window_records - 1, len(values)):
        chunk = values[i - window_records + 1:i + 1]
        if sum(chunk) / len(chunk) < threshold:
            return i
    return None


@pytest.mark.parametrize('seed', range(5))
def test_onset_matches_a_loop_over_windows(seed):
    rng = random.Random(seed)
    # a label term that sits near ln 4, then falls at a random point (or never)
    fall = rng.choice([None, rng.randrange(5, 60)])
    values = [1.39 + rng.uniform(-0.3, 0.3) if fall is None or i < fall
              else max(0.0, 1.39 - 0.05 * (i - fall)) + rng.uniform(-0.2, 0.2)
              for i in range(80)]
    steps = [4 * (i + 1) for i in range(len(values))]  # logger interval 4
    got = onset(steps, values, threshold=1.2, window=48)
    index = reference_onset(values, 1.2, 12)
    assert got == (None if index is None else steps[index])


def test_onset_needs_a_full_window():
    # the first record alone is far below the threshold, but 48 iterations are 12 records
    steps = [4 * (i + 1) for i in range(20)]
    values = [0.0] + [1.4] * 19
    assert onset(steps, values, 1.2, 48) is None
    assert onset(steps, values, 1.2, 4) == 4
    with pytest.raises(ValueError, match='3 steps but 2 values'):
        onset([1, 2, 3], [1.0, 2.0], 1.2, 2)


def test_summarise_log_reads_onset_last_window_and_local_loss():
    records = []
    for i in range(24):  # 96 iterations, logged every 4
        records.append(dict(step=4 * (i + 1), loss=1.0,
                            aln_dynamic=1.4 if i < 12 else 0.4,
                            loss_loc=0.0 if i < 6 or i % 3 == 0 else 0.5))
    out = summarise_log(records, 'aln_dynamic', threshold=1.2, window=48)
    assert out['iterations'] == 96
    # the 48-iteration window holds 12 records; at step 56 it has 2 of 0.4 (mean 1.23),
    # at step 60 three (mean 1.15 < 1.2)
    assert out['onset'] == 60
    assert out['last'] == pytest.approx(0.4)
    assert (out['low'], out['high']) == (0.4, 1.4)
    nonzero = sum(1 for i in range(24) if not (i < 6 or i % 3 == 0))
    assert out['loc_nonzero'] == pytest.approx(nonzero / 24)


def test_summarise_log_of_a_run_without_the_key_or_with_a_nan():
    out = summarise_log([dict(step=4, loss=1.0)], 'aln_dynamic')
    assert out == dict(iterations=4, onset=None, last=None, low=None, high=None,
                       loc_nonzero=None)
    assert summarise_log([], 'aln_dynamic')['iterations'] == 0
    with pytest.raises(ValueError, match='aln_dynamic is not finite at iteration 8'):
        summarise_log([dict(step=4, loss=1.0, aln_dynamic=1.0),
                       dict(step=8, loss=1.0, aln_dynamic=math.nan)])


def write_sweep(path, runs, **top):
    lines = [f'{key} = {value!r}' for key, value in top.items()]
    lines.append(f'runs = {runs!r}')
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


GOOD_RUN = dict(name='a', config=TINY, seed=0, max_epochs=1)


@pytest.mark.parametrize('runs, top, message', [
    ([], {}, r'`runs` must be a non-empty list'),
    ([dict(GOOD_RUN, name='a/b')], {}, r"runs\[0\]: name='a/b' must be unique"),
    ([GOOD_RUN, dict(GOOD_RUN)], {}, r"runs\[1\]: name='a' must be unique"),
    ([{k: v for k, v in GOOD_RUN.items() if k != 'seed'}], {},
     r"runs\[0\]: missing keys \['seed'\], unknown keys \[\]"),
    ([dict(GOOD_RUN, epochs=3)], {}, r"unknown keys \['epochs'\]"),
    ([dict(GOOD_RUN, max_epochs=0)], {}, r'\(a\): max_epochs=0 must be a positive'),
    ([dict(GOOD_RUN, seed='1')], {}, r"\(a\): seed='1' must be an integer"),
    ([dict(GOOD_RUN, config='configs/nope.py')], {}, r"config 'configs/nope.py' does not"),
    ([dict(GOOD_RUN, cfg_options=['model.x'])], {},
     r"runs\[0\]: cfg_options: config override 'model.x' is not of the form"),
    ([GOOD_RUN], dict(preset='huge'), r"preset='huge' is unknown"),
    ([GOOD_RUN], dict(summary=dict(key='aln_dynamic', windw=4)), r"unknown keys \['windw'\]"),
])
def test_load_sweep_names_the_file_run_and_key(tmp_path, runs, top, message):
    path = write_sweep(tmp_path / 'sweep.py', runs, **top)
    with pytest.raises(ValueError, match=message) as info:
        load_sweep(path)
    assert path in str(info.value)


def test_load_sweep_fills_the_defaults(tmp_path):
    path = write_sweep(tmp_path / 'sweep.py', [GOOD_RUN], cfg_options=['a=1'])
    sweep = load_sweep(path)
    assert sweep['preset'] == 'default' and sweep['data_seed'] == 0
    assert sweep['cfg_options'] == ['a=1']
    assert sweep['summary'] == dict(key='aln_dynamic', threshold=1.2, window=48)
    run, = sweep['runs']
    assert run['config'] == osp.join(REPO, TINY)
    assert (run['cfg_options'], run['evaluate']) == ([], False)


def parse_options(options):
    """``--cfg-options`` strings parsed as tools/train.py parses them."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def test_gpu_sweep_builds_and_runs_every_model_it_names():
    """Every distinct model of the GPU sweep is built from its config with the sweep's
    overrides and runs a loss forward on a small batch, so that a GPU machine's few minutes
    are not lost to a typo or a width that does not fit."""
    sweep = load_sweep(GPU_SWEEP)
    assert len({r['name'] for r in sweep['runs']}) == len(sweep['runs'])
    init_default_scope('mmaction')
    variants = {(r['config'], tuple(r['cfg_options'])) for r in sweep['runs']}
    # labels, labels + L_loc (lambda 1.4, 0.7), both wide, SDC, wide SDC, SDC with sigma MLP,
    # SDC with the moving-average teacher, with and without L_fid on the clip's dynamic codes
    assert len(variants) == 10 and len(sweep['runs']) == 19
    for config, options in sorted(variants):
        cfg = Config.fromfile(config)
        merge_cfg_options(cfg, parse_options(list(sweep['cfg_options']) + list(options)))
        assert cfg.train_dataloader.num_workers == 1
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).train()
        samples = [ActionDataSample().set_gt_label(i % 4) for i in range(4)]
        inputs = torch.randn(4, 3, 3, 8, 64, 64)
        losses = model(inputs, samples, mode='loss')
        assert all(torch.isfinite(v) for v in losses.values()), (config, options, losses)
        with torch.no_grad():
            width = model.backbone(inputs[:2, 0]).shape[1]
        teacher = config.endswith('sdc-target-network_r2plus1d-tiny_synthetic.py')
        wide = 'model.backbone.base_channels=16' in options or teacher
        assert width == (128 if wide else 64)
        assert (getattr(model, 'target_backbones', None) is not None) == teacher
        # the label rows train the dynamic half on the motion labels
        labels = config.endswith('sdc-label-targets_r2plus1d-tiny_synthetic.py')
        assert (cfg.model.align_head.type == 'LabelTargetAlignHead') == labels
        assert cfg.train_dataloader.dataset.ann_file.endswith(
            'train_dynamic.txt' if labels else 'train_action.txt')
        mlp = config.endswith('sdc-mlp-sigma_r2plus1d-tiny_synthetic.py')
        assert isinstance(model.align_head.projections['clip'],
                          torch.nn.Sequential) == (mlp or teacher)
        fid_option = 'model.align_head.fidelity_through_dynamic_clip_codes=False' in options
        assert teacher or not fid_option  # the option is set on teacher rows only
        assert getattr(model.align_head, 'fidelity_through_dynamic_clip_codes',
                       True) is not fid_option


@pytest.fixture(scope='module')
def smoke_data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sweep_data'))
    prepare_dataset(root, PRESETS['smoke']['dataset'], seed=0)
    return root


def test_run_sweep_stops_runs_at_the_deadline(tmp_path, smoke_data):
    path = write_sweep(tmp_path / 'sweep.py', [
        dict(GOOD_RUN, name='long', max_epochs=500), dict(GOOD_RUN, name='later')],
        preset='smoke')
    start = time.time()
    statuses = run_sweep(load_sweep(path), str(tmp_path / 'work'), smoke_data,
                         max_parallel=1, deadline_s=3, poll_s=0.2)
    assert time.time() - start < 60
    assert [s['status'] for s in statuses] == ['stopped', 'not started']
    rows = summarise_sweep(statuses)
    assert rows[0]['name'] == 'long' and rows[1]['iterations'] == 0
    table = format_summary(rows)
    assert '| later | not started | 0 |' in table


def test_run_sweep_refuses_a_folder_with_an_earlier_run(tmp_path, smoke_data):
    path = write_sweep(tmp_path / 'sweep.py', [GOOD_RUN], preset='smoke')
    (tmp_path / 'work' / 'a').mkdir(parents=True)
    (tmp_path / 'work' / 'a' / 'old.log').write_text('an earlier run')
    with pytest.raises(FileExistsError, match=r'work/a holds an earlier run'):
        run_sweep(load_sweep(path), str(tmp_path / 'work'), smoke_data)
    assert (tmp_path / 'work' / 'a' / 'old.log').read_text() == 'an earlier run'


def test_run_sweep_stops_its_runs_when_interrupted(tmp_path, smoke_data, monkeypatch):
    """Runs have process sessions of their own, so Ctrl-C does not reach them: the sweep
    must stop them itself."""
    import projects.cpu_scale_study.cpu_scale_study.apis.sweep as sweep_module
    started, real_popen, real_sleep = [], subprocess.Popen, time.sleep

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    def interrupt(seconds):  # the sweep's first wait is cut short; Popen.wait sleeps too
        if not interrupt.done:
            interrupt.done = True
            raise KeyboardInterrupt
        real_sleep(seconds)
    interrupt.done = False

    monkeypatch.setattr(sweep_module.subprocess, 'Popen', popen)
    monkeypatch.setattr(sweep_module.time, 'sleep', interrupt)
    path = write_sweep(tmp_path / 'sweep.py', [dict(GOOD_RUN, max_epochs=500)],
                       preset='smoke')
    with pytest.raises(KeyboardInterrupt):
        run_sweep(load_sweep(path), str(tmp_path / 'work'), smoke_data)
    assert len(started) == 1 and started[0].poll() is not None


def test_device_script_runs_a_sweep_end_to_end(tmp_path, smoke_data):
    """projects/cpu_scale_study/tools/device/run_sweep.sh as a GPU machine without network access runs it (here on the CPU): a
    training run and an evaluated run side by side, the summary and a log archive in
    $OUT."""
    path = write_sweep(tmp_path / 'sweep.py', [
        dict(GOOD_RUN, name='train', max_epochs=2),
        dict(GOOD_RUN, name='evaluated', seed=1, evaluate=True)],
        preset='smoke', cfg_options=['default_hooks.checkpoint.max_keep_ckpts=1'])
    work, out = tmp_path / 'work', tmp_path / 'out'
    os.makedirs(work)
    os.symlink(smoke_data, work / 'data')  # the script's data root, made already
    env = dict(os.environ, OUT=str(out), SWEEP_WORK_DIR=str(work), PYTHON=sys.executable,
               SDC_DEVICE_WHEELS=str(tmp_path / 'no_wheels'), OMP_NUM_THREADS='1')
    proc = subprocess.run(['bash', 'projects/cpu_scale_study/tools/device/run_sweep.sh', path, '300', '2'], cwd=REPO,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:]
    rows = {r['name']: r for r in json.loads((out / 'summary.json').read_text())}
    # smoke preset: 12 training videos in batches of 4, 3 iterations an epoch
    assert rows['train']['status'] == 'finished' and rows['train']['iterations'] == 6
    assert rows['evaluated']['iterations'] == 3
    assert set(rows['evaluated']['checks']) == {
        'beats_random_on_action', 'static_features_know_the_scene',
        'dynamic_features_know_the_motion', 'motion_only_dynamic_beats_static'}
    assert set(rows['evaluated']['distribution_checks']) == \
        set(rows['evaluated']['checks']) - {'beats_random_on_action'}
    assert set(rows['evaluated']['code_checks']) == set(rows['evaluated']['distribution_checks'])
    assert 0.0 <= rows['evaluated']['motion_only_v'] <= 1.0
    summary = (out / 'summary.md').read_text()
    # the evaluated run's p_v and q_v columns
    assert '| train | finished | 6 |' in summary and summary.count(' of 3 |') == 2
    with tarfile.open(out / 'logs.tgz') as archive:
        names = archive.getnames()
    assert './train.log' in names and './evaluated/results.md' in names
    assert any(n.endswith('vis_data/scalars.json') for n in names)
    assert not [n for n in names if n.endswith('.pth') or n.startswith('./data')]


def test_cli_dry_run_prints_each_command_with_the_overrides_last(tool_runner, tmp_path):
    proc = tool_runner(['projects/cpu_scale_study/tools/sweep.py', GPU_SWEEP, '--work-dir', str(tmp_path / 'w'),
                        '--dry-run', '--only', 'labels_s2', 'sdc-wide-2880_s0',
                        '--cfg-options', 'train_dataloader.num_workers=0'])
    # the commands, without the libraries' import warnings
    lines = [line for line in proc.stdout.splitlines() if line.startswith(sys.executable)]
    assert len(lines) == 2 and not (tmp_path / 'w' / 'data').exists()
    train, evaluate = lines
    assert 'tools/train.py' in train and '--seed 2' in train
    assert train.endswith('custom_hooks.0.warmup_epochs=1000 train_dataloader.num_workers=0')
    assert 'tools/quickstart.py' in evaluate and '--max-epochs 120' in evaluate
    assert evaluate.endswith('model.local_head.in_channels=128 '
                             'train_dataloader.num_workers=0')
    bad = tool_runner(['projects/cpu_scale_study/tools/sweep.py', GPU_SWEEP, '--work-dir', str(tmp_path / 'w'),
                       '--dry-run', '--only', 'nope'], check=False)
    assert bad.returncode != 0 and "--only names ['nope'] are not runs" in bad.stdout
