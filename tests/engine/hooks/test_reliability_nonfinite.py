"""NonFiniteLossHook: a NaN / Inf loss term or gradient stops training before the update,
naming the iteration and the term, and the last good checkpoint stays intact."""
import gc
import os.path as osp

import pytest
import torch

import sdc_mmaction  # noqa: F401
from sdc_mmaction.engine.hooks import NonFiniteLossError, NonFiniteLossHook
from sdc_mmaction.engine.hooks.non_finite_loss_hook import non_finite_loss_terms

from reliability_helpers import (read_log_text, read_scalars, unique_experiment_name,
                                 write_tiny_supervised_config, write_videos)

# 4 videos, batch 2: 2 iterations per epoch; iteration 3 is the first of epoch 2
BAD_ITER = 3


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    root = tmp_path_factory.mktemp('nonfinite_data')
    ann = write_videos(str(root / 'videos'), num_videos=4)
    return write_tiny_supervised_config(str(root / 'tiny_nonfinite.py'), str(root / 'videos'),
                                        ann)


def _config_with_hook(tiny_config, tmp_path, name, **hook):
    path = tmp_path / f'{name}.py'
    path.write_text(f"_base_ = [{tiny_config!r}]\n"
                    f"custom_hooks = [dict(type='NonFiniteLossHook', **{hook!r})]\n")
    return str(path)


def _train(config, work_dir, *extra):
    from sdc_mmaction.apis.train import main
    return main([config, '--work-dir', str(work_dir), '--seed', '0', '--cfg-options',
                 f'experiment_name={unique_experiment_name(work_dir)}', 'train_cfg.max_epochs=2',
                 *extra])


class _NaNGradient(torch.autograd.Function):
    """Identity forward, NaN backward: a finite loss whose gradients are not."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float('nan')


def _poison_head_loss(monkeypatch, at_call, kind):
    """Make the I3DHead's loss bad at its ``at_call``-th call (1-based = iteration)."""
    from mmaction.models.heads import I3DHead
    real_loss = I3DHead.loss
    calls = []

    def loss(self, *args, **kwargs):
        losses = real_loss(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == at_call:
            if kind == 'nan':
                losses['loss_cls'] = losses['loss_cls'] * float('nan')
            elif kind == 'inf':
                losses['loss_cls'] = losses['loss_cls'] + float('inf')
            elif kind == 'grad':
                losses['loss_cls'] = _NaNGradient.apply(losses['loss_cls'])
        return losses

    monkeypatch.setattr(I3DHead, 'loss', loss)
    return calls


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def _all_finite(state_dict):
    return all(torch.isfinite(v).all() for v in state_dict.values() if v.is_floating_point())


def test_nan_loss_stops_training_and_names_iteration_and_term(tiny_config, tmp_path,
                                                              monkeypatch):
    _poison_head_loss(monkeypatch, BAD_ITER, 'nan')
    with pytest.raises(NonFiniteLossError) as err:
        _train(tiny_config, tmp_path)
    message = str(err.value)
    assert f'iteration {BAD_ITER} (epoch 2, batch 1/2)' in message
    assert 'loss_cls=nan' in message
    assert 'epoch_1.pth' in message  # names the last good checkpoint
    assert message in read_log_text(str(tmp_path))  # and it is in the log file

    # the last good checkpoint is intact, loadable, finite, and what --resume would use
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read().strip() == str(tmp_path / 'epoch_1.pth')
    checkpoint = _load(tmp_path / 'epoch_1.pth')
    assert checkpoint['meta']['epoch'] == 1 and checkpoint['meta']['iter'] == 2
    assert _all_finite(checkpoint['state_dict'])
    assert not (tmp_path / 'epoch_2.pth').exists()
    # the NaN never reached the logged scalars (training stopped before logging it)
    assert [r['iter'] for r in read_scalars(str(tmp_path))] == [1, 2]


def test_inf_loss_is_caught_too(tiny_config, tmp_path, monkeypatch):
    _poison_head_loss(monkeypatch, 1, 'inf')
    with pytest.raises(NonFiniteLossError, match=r'loss_cls=inf at iteration 1 .*no checkpoint'):
        _train(tiny_config, tmp_path)


def test_nan_gradient_with_finite_loss_stops_before_the_step(tiny_config, tmp_path,
                                                             monkeypatch):
    _poison_head_loss(monkeypatch, BAD_ITER, 'grad')
    weights_seen = []
    from mmengine.optim import OptimWrapper
    real_step = OptimWrapper.step

    def spy_step(self, **kwargs):  # runs only if the guard lets the step through
        real_step(self, **kwargs)
        weights_seen.append(_all_finite(dict(
            (str(i), p.detach()) for i, p in enumerate(self.param_groups[0]['params']))))

    monkeypatch.setattr(OptimWrapper, 'step', spy_step)
    with pytest.raises(NonFiniteLossError,
                       match=rf'non-finite gradient\(s\) in backbone\..*iteration {BAD_ITER}'):
        _train(tiny_config, tmp_path)
    assert weights_seen == [True] * (BAD_ITER - 1)  # no step was taken with NaN gradients
    assert _all_finite(_load(tmp_path / 'epoch_1.pth')['state_dict'])


def test_skip_mode_skips_and_counts(tiny_config, tmp_path, monkeypatch):
    _poison_head_loss(monkeypatch, BAD_ITER, 'nan')
    config = _config_with_hook(tiny_config, tmp_path, 'nan_skip', action='skip')
    runner = _train(config, tmp_path / 'work')
    work_dir = str(tmp_path / 'work')
    log = read_log_text(work_dir)
    assert f'non-finite loss term(s) loss_cls=nan at iteration {BAD_ITER}' in log
    assert 'step skipped (1 skipped so far)' in log
    assert 'NonFiniteLossHook: 1 training step(s) skipped' in log
    assert runner.message_hub.get_info('non_finite_skipped_steps') == 1
    # no NaN gets into the smoothed log values (the skipped iteration's line repeats the
    # last logged loss, as mmengine does for any key not updated in an iteration)
    records = read_scalars(work_dir)
    assert [r['iter'] for r in records] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in records)
    final = _load(osp.join(work_dir, 'epoch_2.pth'))
    assert _all_finite(final['state_dict'])
    assert final['message_hub']['runtime_info']['non_finite_skipped_steps'] == 1


def test_skip_mode_gives_up_after_consecutive_skips(tiny_config, tmp_path, monkeypatch):
    from mmaction.models.heads import I3DHead
    real_loss = I3DHead.loss

    def always_nan(self, *args, **kwargs):
        losses = real_loss(self, *args, **kwargs)
        losses['loss_cls'] = losses['loss_cls'] * float('nan')
        return losses

    monkeypatch.setattr(I3DHead, 'loss', always_nan)
    config = _config_with_hook(tiny_config, tmp_path, 'nan_give_up', action='skip',
                               max_consecutive_skips=3)
    with pytest.raises(NonFiniteLossError, match=r'3 consecutive iterations skipped.*'
                       r'iteration 3'):
        _train(config, tmp_path / 'work')


def test_without_the_hook_nan_reaches_the_weights_and_the_save_path_refuses(
        tiny_config, tmp_path, monkeypatch):
    """The second line of defence: without NonFiniteLossHook the NaN step happens, and
    the atomic save path refuses to write the poisoned checkpoint."""
    from sdc_mmaction.engine.atomic_checkpoint import NonFiniteWeightsError
    _poison_head_loss(monkeypatch, BAD_ITER, 'nan')
    config = tmp_path / 'no_guard.py'
    config.write_text(f'_base_ = [{tiny_config!r}]\ncustom_hooks = []\n')
    with pytest.raises(NonFiniteWeightsError, match='epoch_2.pth'):
        _train(str(config), tmp_path / 'work')
    work_dir = tmp_path / 'work'
    assert not (work_dir / 'epoch_2.pth').exists()
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(work_dir / 'epoch_1.pth')
    assert _all_finite(_load(work_dir / 'epoch_1.pth')['state_dict'])


def test_non_finite_loss_terms():
    nan, inf = float('nan'), float('inf')
    losses = dict(loss_aln=torch.tensor(1.0), loss_fid=torch.tensor([1.0, nan]),
                  loss_div=[torch.tensor(0.5), torch.tensor(inf)], loss_loc=torch.tensor(0.0),
                  acc=torch.tensor(nan))  # not a loss: not summed, not checked
    bad = non_finite_loss_terms(losses)
    assert set(bad) == {'loss_fid', 'loss_div'}
    assert non_finite_loss_terms(dict(loss_aln=torch.tensor(2.0))) == {}


def test_hook_arguments_are_checked():
    with pytest.raises(ValueError, match='action'):
        NonFiniteLossHook(action='ignore')
    with pytest.raises(ValueError, match='max_consecutive_skips'):
        NonFiniteLossHook(max_consecutive_skips=0)


def test_guards_installed_per_optim_wrapper_kind():
    """Loss terms are always checked; gradients only for wrappers without a loss scaler
    (AmpOptimWrapper's scaler already skips overflowing fp16 steps). AmpOptimWrapper needs
    a GPU to construct, so a bare instance stands in for it here."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub, MMLogger
    from mmengine.model import BaseModel
    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    from sdc_mmaction.engine.optim_wrappers.cpu_amp_optim_wrapper import CPUAmpOptimWrapper

    class Tiny(BaseModel):

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2))

        def forward(self, *args, **kwargs):
            return dict(loss_w=self.w.sum())

    def wrappers(model):
        sgd = torch.optim.SGD(model.parameters(), lr=0.1)
        amp = AmpOptimWrapper.__new__(AmpOptimWrapper)
        amp.optimizer = sgd
        return dict(plain=OptimWrapper(sgd), bf16=CPUAmpOptimWrapper(optimizer=sgd), amp=amp)

    model = Tiny()
    for kind, wrapper in wrappers(model).items():
        scheduler_step = wrapper.step  # like mmengine's schedulers' counting wrapper
        wrapper.step = scheduler_step
        runner = SimpleNamespace(model=model, optim_wrapper=wrapper,
                                 message_hub=MessageHub.get_instance(f'guard_{kind}'),
                                 logger=MMLogger.get_instance(f'guard_{kind}'))
        hook = NonFiniteLossHook()
        hook.before_train(runner)
        assert 'parse_losses' in vars(model) and 'update_params' in vars(wrapper)
        assert (vars(wrapper)['step'] is not scheduler_step) == (kind != 'amp'), kind
        hook.after_train(runner)
        assert 'parse_losses' not in vars(model) and 'update_params' not in vars(wrapper)
        assert vars(wrapper)['step'] is scheduler_step  # put back, not dropped


def _ddp_worker(rank, world_size, port, action, queue):
    """One rank of a 2-process CPU DDP step whose loss is NaN on rank 1 only."""
    import os
    from types import SimpleNamespace

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from mmengine.dist import init_dist
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.model import BaseModel, MMDistributedDataParallel
    from mmengine.optim import OptimWrapper

    class Tiny(BaseModel):

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))

        def forward(self, inputs, data_samples=None, mode='loss'):
            loss = (self.w * inputs).sum()
            return dict(loss_w=loss * float('nan') if rank == 1 else loss)

    init_dist('pytorch')
    model = MMDistributedDataParallel(Tiny(), device_ids=None)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    runner = SimpleNamespace(model=model, optim_wrapper=wrapper, iter=0, epoch=0,
                             train_loop=SimpleNamespace(),
                             message_hub=MessageHub.get_instance(f'ddp_guard_{rank}'),
                             logger=MMLogger.get_instance(f'ddp_guard_{rank}'))
    hook = NonFiniteLossHook(action=action)
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    try:
        model.train_step(dict(inputs=torch.ones(3)), wrapper)
        outcome = f"skipped {runner.message_hub.get_info('non_finite_skipped_steps')}"
    except NonFiniteLossError as err:
        outcome = str(err)
    queue.put((rank, outcome, model.module.w.detach().tolist()))
    # free DDP's reducer while the process group is alive (see tests/engine/hooks/test_hooks.py)
    del model, wrapper, runner, hook
    gc.collect()
    torch.distributed.destroy_process_group()


@pytest.mark.parametrize('action', ['error', 'skip'])
def test_ranks_agree_under_data_parallel(action):
    """NaN on one rank only: every rank stops (or skips) at once, none is left waiting in
    the gradient all-reduce, and no rank's weights change."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    # fork: the children reuse this process's imports (a spawned child would spend
    # seconds importing torch and mmaction again); they only do 3-element tensor maths
    ctx = mp.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_ddp_worker, args=(r, 2, port, action, queue))
             for r in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    results = dict((rank, (outcome, w)) for rank, outcome, w in
                   (queue.get(timeout=5) for _ in range(2)))
    if action == 'error':
        assert 'non-finite loss on another rank at rank 0, iteration 1' in results[0][0]
        assert 'loss_w=nan at rank 1, iteration 1' in results[1][0]
    else:
        assert results[0][0] == results[1][0] == 'skipped 1'
    assert results[0][1] == results[1][1] == [1.0, 1.0, 1.0]
