"""Iteration checkpoints for long epochs: a run interrupted in the middle of an epoch
resumes from ``iter_N.pth`` with ``ResumableEpochBasedTrainLoop`` and ends exactly as the
uninterrupted run (no batch trained twice, no iteration past ``max_iters``)."""
import pytest
import torch
from mmengine.hooks import Hook

import sdc_mmaction  # noqa: F401
from mmaction.registry import HOOKS

from reliability_helpers import (read_log_text, read_scalars_by_run, unique_experiment_name,
                                 write_tiny_supervised_config, write_videos)

ITERS_PER_EPOCH = 4  # 8 videos, batch 2
CRASH_AFTER_ITER = 7  # epoch 2, batch 3; the last iteration checkpoint is iter_6


@HOOKS.register_module(force=True)
class CrashAfterIterHook(Hook):
    """Test only: raise after iteration ``at_iter`` (1-based), like a crashed job."""

    priority = 'LOWEST'

    def __init__(self, at_iter):
        self.at_iter = at_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at_iter:
            raise RuntimeError(f'simulated crash after iteration {self.at_iter}')


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    root = tmp_path_factory.mktemp('iter_ckpt')
    ann = write_videos(str(root / 'videos'), num_videos=8)
    base = write_tiny_supervised_config(str(root / 'tiny_base.py'), str(root / 'videos'), ann)
    path = root / 'tiny_iter_ckpt.py'
    # one data worker: fresh workers are seeded alike every epoch, so a resumed run sees
    # the uninterrupted run's augmentations and the losses can be compared exactly
    path.write_text(
        f'_base_ = [{base!r}]\n'
        "train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=3)\n"
        'train_dataloader = dict(num_workers=1)\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=3, max_keep_ckpts=2,'
        ' save_last=True))\n')
    return str(path)


def _train(config, work_dir, *extra):
    from sdc_mmaction.apis.train import main
    return main([config, '--work-dir', str(work_dir), '--seed', '0', '--deterministic',
                 *extra, '--cfg-options',
                 f'experiment_name={unique_experiment_name(work_dir)}'])


def test_mid_epoch_resume_from_iteration_checkpoint(config, tmp_path):
    _train(config, tmp_path / 'reference')
    crash_config = tmp_path / 'crash.py'
    crash_config.write_text(f'_base_ = [{config!r}]\ncustom_hooks = [dict('
                            f"type='CrashAfterIterHook', at_iter={CRASH_AFTER_ITER})]\n")
    work_dir = tmp_path / 'crashed'
    with pytest.raises(RuntimeError, match='simulated crash'):
        _train(str(crash_config), work_dir)
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('iter_6.pth')

    _train(config, work_dir, '--resume')
    log = read_log_text(str(work_dir))
    assert 'resumed epoch: 1, iter: 6' in log
    assert 'resuming inside epoch 2 after 2 of its 4 batches' in log

    reference, = read_scalars_by_run(str(tmp_path / 'reference'))
    _, resumed = read_scalars_by_run(str(work_dir))
    total = 3 * ITERS_PER_EPOCH
    assert [r['iter'] for r in resumed] == list(range(7, total + 1))  # not 7 .. 14
    by_iter = {r['iter']: r for r in reference}
    for record in resumed:
        expected = by_iter[record['iter']]
        assert (record['epoch'], record['lr'], record['loss']) == \
            (expected['epoch'], expected['lr'], expected['loss']), record['iter']

    # the last checkpoint holds every iteration, and the same weights
    final = torch.load(work_dir / f'iter_{total}.pth', map_location='cpu', weights_only=False)
    expected = torch.load(tmp_path / 'reference' / f'iter_{total}.pth', map_location='cpu',
                          weights_only=False)
    assert final['meta']['iter'] == total
    for name, value in expected['state_dict'].items():
        assert torch.equal(value, final['state_dict'][name]), name
