"""Atomic checkpoints: a crash or a kill while saving never leaves a corrupt checkpoint
that ``--resume`` would pick, and checkpoints with NaN weights are never written."""
import os
import os.path as osp
import signal

import pytest
import torch

import sdc_mmaction  # noqa: F401  (installs the atomic writes)
from sdc_mmaction.engine import atomic_checkpoint
from sdc_mmaction.engine.atomic_checkpoint import NonFiniteWeightsError

from reliability_helpers import (unique_experiment_name, write_tiny_supervised_config,
                                 write_videos)


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    root = tmp_path_factory.mktemp('atomic_data')
    ann = write_videos(str(root / 'videos'), num_videos=4)
    return write_tiny_supervised_config(str(root / 'tiny_atomic.py'), str(root / 'videos'), ann)


def _train(config, work_dir, *extra):
    from sdc_mmaction.apis.train import main
    return main([config, '--work-dir', str(work_dir), '--seed', '0', '--cfg-options',
                 f'experiment_name={unique_experiment_name(work_dir)}',
                 'train_cfg.max_epochs=2', *extra])


def _read_last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def _assert_complete_checkpoint(path, epoch):
    checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    assert checkpoint['meta']['epoch'] == epoch
    assert all(torch.isfinite(v).all() for v in checkpoint['state_dict'].values()
               if v.is_floating_point())


def _leftover_temporaries(work_dir):
    return [name for name in os.listdir(work_dir) if '.tmp-' in name]


def test_patches_installed():
    import mmengine.runner
    from mmengine.hooks import CheckpointHook
    from mmengine.hooks import checkpoint_hook
    from mmengine.runner import runner as runner_module

    assert atomic_checkpoint.PATCHED == {'save_checkpoint': True, 'remove_after_save': True,
                                         'last_checkpoint': True}
    assert runner_module.save_checkpoint is atomic_checkpoint.save_checkpoint
    assert mmengine.runner.save_checkpoint is atomic_checkpoint.save_checkpoint
    assert CheckpointHook._save_checkpoint_with_step._sdc_atomic
    assert checkpoint_hook.open is atomic_checkpoint._open_for_checkpoint_hook


def test_crash_inside_torch_save_keeps_previous_checkpoint(tiny_config, tmp_path,
                                                           monkeypatch):
    """torch.save dies half-way through epoch 2's checkpoint (disk full, bug, ...).

    With ``max_keep_ckpts=1`` mmengine would already have deleted epoch_1.pth and left
    ``last_checkpoint`` naming it: nothing would be left to resume from."""
    real_save = torch.save
    calls = []

    def failing_save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the epoch 2 checkpoint
            f.write(b'PK\x03\x04 partial checkpoint bytes' * 100)
            raise OSError(28, 'No space left on device (simulated)')
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, 'save', failing_save)
    with pytest.raises(OSError, match='simulated'):
        _train(tiny_config, tmp_path, 'default_hooks.checkpoint.max_keep_ckpts=1')

    assert len(calls) == 2
    assert _read_last_checkpoint(tmp_path) == str(tmp_path / 'epoch_1.pth')
    _assert_complete_checkpoint(tmp_path / 'epoch_1.pth', epoch=1)
    assert not (tmp_path / 'epoch_2.pth').exists()
    assert _leftover_temporaries(tmp_path) == []


def test_crash_while_writing_last_checkpoint_keeps_it(tiny_config, tmp_path, monkeypatch):
    """The move of the new ``last_checkpoint`` fails: the file keeps the previous path,
    and the previous checkpoint (which it names) is not deleted."""
    real_replace = os.replace

    def failing_replace(src, dst):
        if osp.basename(dst) == 'last_checkpoint' and osp.exists(dst):
            raise OSError('crash while replacing last_checkpoint (simulated)')
        return real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', failing_replace)
    with pytest.raises(OSError, match='simulated'):
        _train(tiny_config, tmp_path, 'default_hooks.checkpoint.max_keep_ckpts=1')

    assert _read_last_checkpoint(tmp_path) == str(tmp_path / 'epoch_1.pth')
    _assert_complete_checkpoint(tmp_path / 'epoch_1.pth', epoch=1)
    _assert_complete_checkpoint(tmp_path / 'epoch_2.pth', epoch=2)  # complete, just unnamed
    assert _leftover_temporaries(tmp_path) == []


def test_old_checkpoints_removed_after_successful_save(tiny_config, tmp_path):
    _train(tiny_config, tmp_path, 'default_hooks.checkpoint.max_keep_ckpts=1')
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith('.pth')) == ['epoch_2.pth']
    assert _read_last_checkpoint(tmp_path) == str(tmp_path / 'epoch_2.pth')
    _assert_complete_checkpoint(tmp_path / 'epoch_2.pth', epoch=2)
    assert _leftover_temporaries(tmp_path) == []


def test_sigkill_while_writing_leaves_previous_file(tmp_path):
    """A process killed in the middle of writing a checkpoint over an existing file."""
    path = str(tmp_path / 'epoch_1.pth')
    atomic_checkpoint.save_checkpoint({'state_dict': {'w': torch.ones(3)}}, path)
    before = open(path, 'rb').read()

    pid = os.fork()
    if pid == 0:  # child: start writing new content, then die without any cleanup
        try:
            def dying_save(obj, f, *args, **kwargs):
                f.write(b'partial' * 1000)
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)

            torch.save = dying_save
            atomic_checkpoint.save_checkpoint({'state_dict': {'w': torch.zeros(3)}}, path)
        finally:
            os._exit(3)  # never reached when the kill lands
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    assert open(path, 'rb').read() == before
    loaded = torch.load(path, weights_only=False)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(3))
    # the killed writer's temporary file is hidden and not a .pth
    for name in _leftover_temporaries(tmp_path):
        assert name.startswith('.epoch_1.pth.tmp-') and not name.endswith('.pth')


def test_non_finite_weights_are_never_written(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_3.pth'
    state = {'backbone.w': torch.tensor([1.0, float('nan')]), 'head.b': torch.ones(2),
             'head.steps': torch.tensor(3)}
    with pytest.raises(NonFiniteWeightsError, match=r'backbone\.w') as err:
        atomic_checkpoint.save_checkpoint({'state_dict': state}, str(path))
    assert 'head.b' not in str(err.value)
    assert not path.exists() and os.listdir(tmp_path) == []

    ema = {'state_dict': {'w': torch.ones(1)},
           'ema_state_dict': {'w': torch.tensor([float('inf')])}}
    with pytest.raises(NonFiniteWeightsError, match=r'ema_state_dict\.w'):
        atomic_checkpoint.save_checkpoint(ema, str(path))

    monkeypatch.setenv(atomic_checkpoint.ALLOW_NONFINITE_ENV, '1')
    atomic_checkpoint.save_checkpoint({'state_dict': state}, str(path))
    assert path.exists()


def test_non_local_storage_goes_to_mmengine(monkeypatch):
    seen = []
    monkeypatch.setattr(atomic_checkpoint, '_mmengine_save_checkpoint',
                        lambda checkpoint, filename, **kwargs: seen.append(filename))
    atomic_checkpoint.save_checkpoint({'state_dict': {'w': torch.ones(1)}},
                                      's3://bucket/epoch_1.pth')
    assert seen == ['s3://bucket/epoch_1.pth']


def test_atomic_open_refuses_non_write_modes(tmp_path):
    with pytest.raises(ValueError, match='mode'):
        with atomic_checkpoint.atomic_open(str(tmp_path / 'x'), 'rb'):
            pass
