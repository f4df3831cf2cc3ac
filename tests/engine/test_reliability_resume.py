"""A pre-training run killed with SIGKILL in the middle of an epoch resumes from its last
checkpoint and continues exactly like a run that was never interrupted (epoch, iteration,
learning rate, local-loss warm-up, score queue, weights); two runs with the same seed
log the same losses.

Three real ``tools/train.py`` processes on the SDC tiny config and the generated dataset
(2 epochs x 3 iterations): an uninterrupted reference and a run parked after iteration 5
(epoch 2, batch 2) run side by side; the parked one is SIGKILLed (its whole process group,
data worker included) and then resumed with ``--resume``.
"""
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch

from reliability_helpers import (TESTS_DIR, read_log_text, read_scalars_by_run, wait_for,
                                 write_sdc_tiny_config)

REPO_ROOT = osp.dirname(TESTS_DIR)
KILL_AFTER_ITER = 5  # epoch 2, batch 2 of 3
ITERS_PER_EPOCH = 3  # 12 training videos, batch 4
# one DataLoader worker: mmengine seeds fresh workers identically every epoch, so the
# augmentations after a resume are those of the uninterrupted run (with num_workers=0 they
# come from the main process's generator, which a resume starts afresh)
CONFIG_OPTIONS = dict(num_workers=1)


def _env():
    env = dict(os.environ)
    env['OMP_NUM_THREADS'] = '1'
    env['PYTHONPATH'] = os.pathsep.join([REPO_ROOT, TESTS_DIR, env.get('PYTHONPATH', '')])
    return env


def _train_cmd(config, work_dir, *extra):
    return [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
            work_dir, '--seed', '0', '--deterministic', *extra]


@pytest.fixture(scope='module')
def runs(generated_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp('resume')
    config = write_sdc_tiny_config(str(root / 'sdc_tiny_resume.py'), generated_dataset,
                                   **CONFIG_OPTIONS)
    marker = str(root / 'parked')
    parked_config = write_sdc_tiny_config(
        str(root / 'sdc_tiny_parked.py'), generated_dataset, **CONFIG_OPTIONS,
        extra=("custom_imports = dict(imports=['sdc_mmaction', 'reliability_helpers'], "
               'allow_failed_imports=False)\n'
               f"custom_hooks.append(dict(type='ParkTrainingHook', at_iter={KILL_AFTER_ITER}, "
               f'marker={marker!r}))\n'))
    reference_dir, killed_dir = str(root / 'reference'), str(root / 'killed')

    logs = {name: open(root / f'{name}.out', 'w') for name in ('reference', 'killed')}
    reference = subprocess.Popen(_train_cmd(config, reference_dir), cwd=REPO_ROOT,
                                 env=_env(), stdout=logs['reference'],
                                 stderr=subprocess.STDOUT, start_new_session=True)
    killed = subprocess.Popen(_train_cmd(parked_config, killed_dir), cwd=REPO_ROOT,
                              env=_env(), stdout=logs['killed'], stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        parked = wait_for(lambda: osp.exists(marker), timeout=300, process=killed)
        state = dict(
            parked=parked,
            files_at_kill=sorted(os.listdir(killed_dir)) if osp.isdir(killed_dir) else [],
            last_checkpoint_at_kill=open(osp.join(killed_dir, 'last_checkpoint')).read()
            if osp.exists(osp.join(killed_dir, 'last_checkpoint')) else None,
            log_at_kill=read_log_text(killed_dir))
        os.killpg(killed.pid, signal.SIGKILL)  # the run and its data worker, no cleanup
        killed.wait(timeout=60)
        state['killed_returncode'] = killed.returncode
        reference.wait(timeout=300)
    finally:
        for proc in (killed, reference):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs.values():
            log.close()
    assert parked, 'the parked run never reached iteration ' \
        f'{KILL_AFTER_ITER}:\n' + (root / 'killed.out').read_text()[-4000:]
    assert reference.returncode == 0, (root / 'reference.out').read_text()[-4000:]

    resumed = subprocess.run(_train_cmd(config, killed_dir, '--resume'), cwd=REPO_ROOT,
                             env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-4000:]
    return dict(state, reference_dir=reference_dir, killed_dir=killed_dir)


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def _loss_keys(record):
    return sorted(k for k in record if k.startswith('loss'))


def test_kill_happened_mid_epoch_after_a_checkpoint(runs):
    assert runs['killed_returncode'] == -signal.SIGKILL
    assert 'epoch_1.pth' in runs['files_at_kill'] and 'epoch_2.pth' not in runs['files_at_kill']
    assert runs['last_checkpoint_at_kill'].strip().endswith('epoch_1.pth')
    # the log shows progress into the next epoch
    assert f'Epoch(train) [2][{KILL_AFTER_ITER - ITERS_PER_EPOCH}/{ITERS_PER_EPOCH}]' \
        in runs['log_at_kill']


def test_resume_restores_epoch_iteration_and_continues(runs):
    resumed_log = read_log_text(runs['killed_dir'])
    assert 'Auto resumed from the latest checkpoint' in resumed_log
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in resumed_log
    for work_dir in (runs['reference_dir'], runs['killed_dir']):
        final = _load(osp.join(work_dir, 'epoch_2.pth'))
        assert final['meta']['epoch'] == 2 and final['meta']['iter'] == 2 * ITERS_PER_EPOCH


def test_resumed_run_matches_uninterrupted_run(runs):
    reference, = read_scalars_by_run(runs['reference_dir'])
    before_kill, after_resume = read_scalars_by_run(runs['killed_dir'])
    assert [r['iter'] for r in reference] == list(range(1, 2 * ITERS_PER_EPOCH + 1))
    assert [r['iter'] for r in before_kill] == list(range(1, KILL_AFTER_ITER + 1))
    # the resumed run redoes the interrupted epoch from its start
    assert [r['iter'] for r in after_resume] == list(range(ITERS_PER_EPOCH + 1,
                                                           2 * ITERS_PER_EPOCH + 1))
    by_iter = {r['iter']: r for r in reference}
    for record in after_resume:
        expected = by_iter[record['iter']]
        assert record['lr'] == expected['lr']  # the LR schedule went on where it was
        assert _loss_keys(record) == _loss_keys(expected) == \
            ['loss', 'loss_aln', 'loss_div', 'loss_fid', 'loss_loc']
        for key in _loss_keys(record):
            assert record[key] == expected[key], (record['iter'], key)

    reference_final = _load(osp.join(runs['reference_dir'], 'epoch_2.pth'))
    resumed_final = _load(osp.join(runs['killed_dir'], 'epoch_2.pth'))
    for name, value in reference_final['state_dict'].items():
        assert torch.equal(value, resumed_final['state_dict'][name]), name
    # optimizer state (momentum / Adam moments, step counts) and the LR in param_groups
    _assert_same(reference_final['optimizer'], resumed_final['optimizer'], 'optimizer')


def test_resume_restores_warmup_and_queue(runs):
    resumed_log = read_log_text(runs['killed_dir']).split('Auto resumed from')[-1]
    # warm-up: the local loss is on in epoch 2, though the checkpoint was saved in epoch 1
    assert 'LocalLossWarmupHook: epoch 1: local_head.loss_weight = 1' in resumed_log
    _, after_resume = read_scalars_by_run(runs['killed_dir'])
    assert all(r['loss_loc'] > 0 for r in after_resume)
    # queue: restored from the checkpoint, then carried on identically
    saved = _load(osp.join(runs['killed_dir'], 'epoch_1.pth'))['concept_queue']
    assert saved['states'][0]['filled'] == ITERS_PER_EPOCH * 4  # 3 batches of 4
    assert 'rows filled' in resumed_log and 'restored the score queue' in resumed_log
    reference_queue = _load(osp.join(runs['reference_dir'], 'epoch_2.pth'))['concept_queue']
    resumed_queue = _load(osp.join(runs['killed_dir'], 'epoch_2.pth'))['concept_queue']
    _assert_same(reference_queue['states'], resumed_queue['states'])


def _assert_same(a, b, where='queue'):
    if torch.is_tensor(a):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert sorted(a) == sorted(b), where
        for key in a:
            _assert_same(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, where


def test_same_seed_deterministic_runs_log_the_same_losses(runs):
    """``--seed 0 --deterministic``: the reference and the (later killed) run are two
    independent processes; their first iterations log identical losses."""
    reference, = read_scalars_by_run(runs['reference_dir'])
    before_kill = read_scalars_by_run(runs['killed_dir'])[0]
    assert len(before_kill) == KILL_AFTER_ITER
    for a, b in zip(reference, before_kill):
        assert a['iter'] == b['iter'] and a['lr'] == b['lr']
        for key in _loss_keys(a):
            assert a[key] == b[key], (a['iter'], key)
