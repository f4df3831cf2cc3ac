"""LocalLossWarmupHook and ConceptQueueHook: with a stand-in runner and under 2-process DDP
(gloo). The end-to-end check through tools/train.py (warm-up weight in the log, queue in the
checkpoint, both restored by --resume) is
tests/configs/test_configs.py::test_tiny_config_trains_with_falling_loss_and_resumes."""
import gc
import os.path as osp
import types

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

import sdc_mmaction  # noqa: F401  (registration)
from hook_helpers import fake_runner, weights_over_epochs
from mmaction.registry import HOOKS, MODELS
from sdc_mmaction.compat import leave_distributed_run
from sdc_mmaction.engine.hooks import ConceptQueueHook, LocalLossWarmupHook

KS, KD = 3, 2


class HeadsOnly(nn.Module):
    """The two heads of the recognizer, without a backbone (enough for the hooks)."""

    def __init__(self, local_weight=0.7, queue_length=8, queue_start_epoch=1):
        super().__init__()
        self.align_head = MODELS.build(dict(
            type='ConceptAlignHead', in_channels=4, num_static_concepts=KS,
            num_dynamic_concepts=KD, queue_length=queue_length,
            queue_start_epoch=queue_start_epoch))
        self.local_head = MODELS.build(dict(
            type='LocalConceptContrastHead', in_channels=4, num_static_concepts=KS,
            num_dynamic_concepts=KD, top_k=1, loss_weight=local_weight))

    def align_loss(self, batch_size=4, seed=0):
        gen = torch.Generator().manual_seed(seed)
        pooled = {v: torch.randn(batch_size, 4, generator=gen)
                  for v in ('clip', 'static', 'diff')}
        return self.align_head.loss(pooled, self.align_head(pooled))


# ---------------------------------------------------------------------------- warm-up
def test_warmup_schedule_from_the_heads_configured_weight():
    model = HeadsOnly(local_weight=0.7)
    hook = HOOKS.build(dict(type='LocalLossWarmupHook', warmup_epochs=2))
    runner = fake_runner(model)
    weights = weights_over_epochs(hook, runner, lambda: model.local_head.loss_weight)
    assert weights == [0.0, 0.0, 0.7, 0.7]
    assert [hook.weight_at(e) for e in range(4)] == weights


@pytest.mark.parametrize('resume_epoch,expected', [(1, 0.0), (2, 0.7), (3, 0.7)])
def test_warmup_after_resume(resume_epoch, expected):
    """before_train sets the weight of the epoch resumed at, whatever the model holds."""
    model = HeadsOnly(local_weight=0.7)
    hook = LocalLossWarmupHook(warmup_epochs=2)
    runner = fake_runner(model)
    hook.before_run(runner)  # reads alpha = 0.7 from the freshly built head
    model.local_head.loss_weight = 0.0 if expected else 0.7  # what a checkpoint might hold
    runner.epoch = resume_epoch
    hook.before_train(runner)
    assert model.local_head.loss_weight == expected


def test_warmup_explicit_weight_wrapped_model_and_tensor_weight():
    model = HeadsOnly(local_weight=1.0)
    model.local_head.loss_weight = torch.tensor(1.0)  # a head may keep it as a tensor
    # DataParallel on a CPU-only machine is a pass-through model wrapper
    runner = fake_runner(nn.DataParallel(model), epoch=0)
    hook = LocalLossWarmupHook(warmup_epochs=1, loss_weight=0.25)
    hook.before_run(runner)
    hook.before_train(runner)
    assert float(model.local_head.loss_weight) == 0.0
    runner.epoch = 1
    hook.before_train_epoch(runner)
    assert float(model.local_head.loss_weight) == 0.25
    assert torch.is_tensor(model.local_head.loss_weight)


def test_warmup_zero_epochs_keeps_alpha():
    model = HeadsOnly(local_weight=0.5)
    hook = LocalLossWarmupHook(warmup_epochs=0)
    runner = fake_runner(model)
    hook.before_run(runner)
    hook.before_train(runner)
    assert model.local_head.loss_weight == 0.5


def test_warmup_errors():
    with pytest.raises(ValueError, match='warmup_epochs'):
        LocalLossWarmupHook(warmup_epochs=-1)
    with pytest.raises(ValueError, match='loss_weight'):
        LocalLossWarmupHook(loss_weight=-1.0)
    hook = LocalLossWarmupHook(head_name='missing_head')
    with pytest.raises(AttributeError, match="no 'missing_head'"):
        hook.before_run(fake_runner(HeadsOnly()))
    model = HeadsOnly()
    hook = LocalLossWarmupHook()
    loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    runner = fake_runner(model, loop=loop)
    hook.before_run(runner)
    with pytest.raises(TypeError, match='IterBasedTrainLoop'):
        hook.before_train(runner)


def test_warmup_warns_when_it_outlasts_training():
    loop = EpochBasedTrainLoop.__new__(EpochBasedTrainLoop)
    loop._max_epochs = 3
    runner = fake_runner(HeadsOnly(), loop=loop)
    messages = []
    runner.logger = types.SimpleNamespace(warning=messages.append, info=lambda msg: None)
    LocalLossWarmupHook(warmup_epochs=3).before_run(runner)
    assert messages and 'never used' in messages[0]


@pytest.mark.parametrize('optimizer,weight_decay,warns', [
    ('Adam', 1e-5, True), ('Adam', 0.0, False), ('AdamW', 1e-5, False),
    ('SGD', 1e-4, False), ('RMSprop', 1e-5, True), ('NAdam', 1e-5, True)])
def test_warmup_warns_when_weight_decay_would_wipe_the_head(optimizer, weight_decay, warns):
    model = HeadsOnly()
    runner = fake_runner(model)
    runner.optim_wrapper = types.SimpleNamespace(optimizer=getattr(torch.optim, optimizer)(
        model.parameters(), lr=1e-3, weight_decay=weight_decay))
    messages = []
    runner.logger = types.SimpleNamespace(warning=messages.append, info=lambda msg: None)
    hook = LocalLossWarmupHook(warmup_epochs=2)
    hook.before_run(runner)
    hook.before_train(runner)
    assert bool(messages) == warns, messages
    if warns:
        assert f'{optimizer} adds weight_decay=1e-05' in messages[0] and 'AdamW' in messages[0]
    # a run resumed after the warm-up has nothing left to wipe
    messages.clear()
    runner.epoch = 2
    hook.before_train(runner)
    assert not messages


# ---------------------------------------------------------------------------- queue
def test_queue_starts_at_the_configured_epoch():
    model = HeadsOnly(queue_length=8, queue_start_epoch=1)
    hook = HOOKS.build(dict(type='ConceptQueueHook'))
    runner = fake_runner(model)
    hook.before_run(runner)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    model.align_loss()
    assert not model.align_head.queue_active and model.align_head.queue_filled == 0
    runner.epoch = 1
    hook.before_train_epoch(runner)
    model.align_loss()
    assert model.align_head.queue_active and model.align_head.queue_filled == 4


def test_queue_save_and_restore_through_a_checkpoint(tmp_path):
    model = HeadsOnly(queue_length=8, queue_start_epoch=0)
    hook = ConceptQueueHook()
    runner = fake_runner(model, epoch=0)
    hook.before_train(runner)
    for seed in range(3):  # 12 rows through a queue of 8
        model.align_loss(seed=seed)
    checkpoint = dict(meta=dict(epoch=1))
    hook.after_train_epoch(runner)
    hook.before_save_checkpoint(runner, checkpoint)
    saved = checkpoint['concept_queue']
    assert saved['world_size'] == 1 and saved['states'][0]['filled'] == 8
    path = osp.join(tmp_path, 'epoch_1.pth')
    torch.save(checkpoint, path)

    fresh = HeadsOnly(queue_length=8, queue_start_epoch=0)
    fresh.load_state_dict(model.state_dict())  # the queue is not in the state dict
    assert fresh.align_head.queue_state()['scores'] is None
    ConceptQueueHook().after_load_checkpoint(fake_runner(fresh, epoch=1),
                                             torch.load(path, weights_only=False))
    restored, original = fresh.align_head.queue_state(), model.align_head.queue_state()
    assert restored['filled'] == original['filled'] == 8
    for view in ('clip', 'static', 'diff'):
        assert torch.equal(restored['scores'][view], original['scores'][view])
    # the restored queue is used by the next loss: same targets as the original head
    torch.testing.assert_close(fresh.align_loss(seed=9)['loss_aln'],
                               model.align_loss(seed=9)['loss_aln'])


def test_queue_checkpoint_without_queue_and_mismatched_length():
    model = HeadsOnly(queue_length=8, queue_start_epoch=0)
    model.align_loss()
    model.align_head.set_epoch(0)
    model.align_loss()
    assert model.align_head.queue_filled > 0
    runner = fake_runner(model)
    ConceptQueueHook().after_load_checkpoint(runner, dict(meta={}))
    assert model.align_head.queue_filled == 0

    other = HeadsOnly(queue_length=16, queue_start_epoch=0)
    other.align_loss()
    checkpoint = {}
    ConceptQueueHook().before_save_checkpoint(fake_runner(other), checkpoint)
    with pytest.raises(ValueError, match='ConceptQueueHook.*queue_length=8'):
        ConceptQueueHook().after_load_checkpoint(runner, checkpoint)


def test_queue_hook_needs_the_queue_api():
    model = nn.Module()
    model.align_head = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match='set_epoch'):
        ConceptQueueHook().before_run(fake_runner(model))


# ---------------------------------------------------------------------------- 2-process DDP
def _ddp_worker(rank, world_size, init_file, out_dir):
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    from mmengine.registry import init_default_scope

    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world_size)
    try:
        init_default_scope('mmaction')
        runner_logger = MMLogger.get_instance(f'ddp_rank{rank}')

        # --- queue: each rank fills its own queue; rank 0 saves all; each restores its own
        model = HeadsOnly(queue_length=8, queue_start_epoch=0)
        runner = fake_runner(model)
        runner.logger = runner_logger
        hook = ConceptQueueHook()
        hook.before_train(runner)
        model.align_loss(batch_size=3, seed=rank)
        hook.after_train_epoch(runner)  # collective
        checkpoint = {}
        if rank == 0:
            hook.before_save_checkpoint(runner, checkpoint)
            torch.save(checkpoint, osp.join(out_dir, 'ckpt.pth'))
        dist.barrier()
        checkpoint = torch.load(osp.join(out_dir, 'ckpt.pth'), weights_only=False)
        fresh = HeadsOnly(queue_length=8, queue_start_epoch=0)
        ConceptQueueHook().after_load_checkpoint(fake_runner(fresh), checkpoint)
        mine = model.align_head.queue_state()
        restored = fresh.align_head.queue_state()
        assert checkpoint['concept_queue']['world_size'] == world_size
        assert restored['filled'] == mine['filled'] == 3
        assert torch.equal(restored['scores']['clip'], mine['scores']['clip'])
        others = checkpoint['concept_queue']['states'][1 - rank]
        assert not torch.equal(others['scores']['clip'], mine['scores']['clip'])

        # --- warm-up: L_loc weighted by 0 keeps every parameter in the DDP graph
        torch.manual_seed(0)
        recognizer = MODELS.build(dict(
            type='ConceptPretrainRecognizer',
            backbone=dict(type='S3D', width_multiplier=0.0625),
            align_head=dict(type='ConceptAlignHead', in_channels=64,
                            num_static_concepts=KS, num_dynamic_concepts=KD),
            local_head=dict(type='LocalConceptContrastHead', in_channels=64,
                            num_static_concepts=KS, num_dynamic_concepts=KD, top_k=1),
            data_preprocessor=dict(type='mmengine.BaseDataPreprocessor')))
        ddp = MMDistributedDataParallel(recognizer, device_ids=None,
                                        find_unused_parameters=False)
        warmup = LocalLossWarmupHook(warmup_epochs=1)
        runner = fake_runner(ddp)
        runner.logger = runner_logger
        warmup.before_run(runner)
        warmup.before_train(runner)
        assert recognizer.local_head.loss_weight == 0.0
        from mmengine.optim import OptimWrapper
        optim = OptimWrapper(torch.optim.SGD(ddp.parameters(), lr=0.01))
        gen = torch.Generator().manual_seed(rank)
        for _ in range(3):  # DDP complains on the 2nd step if a parameter went unused
            data = dict(inputs=torch.randn(2, 3, 3, 4, 32, 32, generator=gen),
                        data_samples=None)
            log_vars = ddp.train_step(data, optim)
            assert float(log_vars['loss_loc']) == 0.0
        with open(osp.join(out_dir, f'ok{rank}'), 'w') as f:
            f.write('ok')
        # Free DDP's reducer while the process group is alive: left to the end of the
        # function, it was torn down after destroy_process_group and now and then hung
        # the worker's exit.
        del ddp, optim, runner, warmup
        gc.collect()
    except BaseException:
        dist.destroy_process_group()
        raise
    leave_distributed_run()  # exits as the tools do (compat fix 4: gloo abort at exit)


def test_hooks_under_two_process_ddp(tmp_path):
    import torch.multiprocessing as mp
    init_file = osp.join(tmp_path, 'dist_init')
    mp.spawn(_ddp_worker, args=(2, init_file, str(tmp_path)), nprocs=2, join=True)
    assert osp.exists(osp.join(tmp_path, 'ok0')) and osp.exists(osp.join(tmp_path, 'ok1'))
