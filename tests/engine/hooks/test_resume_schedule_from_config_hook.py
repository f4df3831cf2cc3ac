"""ResumeScheduleFromConfigHook: a run resumed with a changed schedule (more epochs)
follows the schedule of a fresh run of the running config; an unchanged one is untouched.

The runner's part is reproduced in process: schedulers built as ``Runner`` builds them
(``end`` from ``max_epochs``, iteration-based), stepped once per iteration as
``ParamSchedulerHook`` does, and resumed as ``Runner.resume`` does (the hook's
``after_load_checkpoint``, then ``load_state_dict`` of the optimizer and schedulers)."""
import copy
import logging
from types import SimpleNamespace

import pytest
import torch
from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR

from sdc_mmaction.engine.hooks import ResumeScheduleFromConfigHook
from sdc_mmaction.engine.hooks.resume_schedule_from_config_hook import \
    configured_attributes

EPOCH_LENGTH = 2


def cosine_only(optimizer, max_epochs):
    """The tiny SDC config's schedule: a cosine with T_max fixed at 8 epochs, ``end``
    left to mmengine (max_epochs)."""
    return [CosineAnnealingLR.build_iter_from_epoch(
        optimizer, T_max=8, eta_min=0, begin=0, end=max_epochs, by_epoch=True,
        epoch_length=EPOCH_LENGTH)]


def warmup_then_cosine(optimizer, max_epochs):
    """The downstream configs' schedule, with T_max and end following max_epochs (the
    runs below resume where the cosine begins, so its shape has not acted yet)."""
    return [LinearLR.build_iter_from_epoch(optimizer, start_factor=0.1, begin=0, end=2,
                                           by_epoch=True, epoch_length=EPOCH_LENGTH),
            CosineAnnealingLR.build_iter_from_epoch(
                optimizer, T_max=max_epochs - 2, eta_min=1e-4, begin=2, end=max_epochs,
                by_epoch=True, epoch_length=EPOCH_LENGTH)]


def new_optimizer():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)


def train(optimizer, schedulers, first_iter, last_iter):
    """The learning rate each iteration in ``first_iter .. last_iter - 1`` uses."""
    used = []
    for _ in range(first_iter, last_iter):
        used.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    return used


class Runner(SimpleNamespace):
    """The attributes of mmengine's Runner that the hook reads."""

    def __init__(self, param_schedulers):
        logger = logging.getLogger('test_resume_schedule')
        logger.setLevel(logging.INFO)
        super().__init__(param_schedulers=param_schedulers, logger=logger, messages=[])
        self.logger.info = self.messages.append


def checkpoint_after(schedule, old_epochs, stop_epoch):
    """A run of ``old_epochs`` saved after ``stop_epoch``: its optimizer and scheduler
    states, as ``CheckpointHook`` saves them."""
    optimizer = new_optimizer()
    schedulers = schedule(optimizer, old_epochs)
    train(optimizer, schedulers, 0, stop_epoch * EPOCH_LENGTH)
    return dict(optimizer=copy.deepcopy(optimizer.state_dict()),
                param_schedulers=[copy.deepcopy(s.state_dict()) for s in schedulers])


def resume(schedule, checkpoint, max_epochs, hook=True):
    optimizer = new_optimizer()
    schedulers = schedule(optimizer, max_epochs)
    runner = Runner(schedulers)
    if hook:
        ResumeScheduleFromConfigHook().after_load_checkpoint(runner, checkpoint)
    optimizer.load_state_dict(checkpoint['optimizer'])
    for scheduler, state in zip(schedulers, checkpoint['param_schedulers']):
        scheduler.load_state_dict(state)
    return optimizer, schedulers, runner


@pytest.mark.parametrize('schedule', [cosine_only, warmup_then_cosine])
def test_resume_to_more_epochs_follows_a_fresh_run(schedule):
    old_epochs, new_epochs, stop = 3, 5, 2
    optimizer = new_optimizer()
    fresh = train(optimizer, schedule(optimizer, new_epochs), 0, new_epochs * EPOCH_LENGTH)

    checkpoint = checkpoint_after(schedule, old_epochs, stop)
    optimizer, schedulers, runner = resume(schedule, copy.deepcopy(checkpoint), new_epochs)
    resumed = train(optimizer, schedulers, stop * EPOCH_LENGTH, new_epochs * EPOCH_LENGTH)
    assert resumed == fresh[stop * EPOCH_LENGTH:]
    assert len(set(resumed)) == len(resumed), 'the lr changes every iteration'
    assert any('.end = 10 from the config (the checkpoint had 6)' in m
               for m in runner.messages), runner.messages

    # what mmengine alone does: the checkpoint's schedule (end, and T_max where the
    # config derives it from max_epochs); with T_max fixed, the lr stays where it was
    # after the old last iteration
    optimizer, schedulers, _ = resume(schedule, copy.deepcopy(checkpoint), new_epochs,
                                      hook=False)
    unhooked = train(optimizer, schedulers, stop * EPOCH_LENGTH, new_epochs * EPOCH_LENGTH)
    assert unhooked != resumed
    if schedule is cosine_only:
        last_old = old_epochs * EPOCH_LENGTH - stop * EPOCH_LENGTH  # index of iteration 6
        assert unhooked[:last_old] == resumed[:last_old]
        assert set(unhooked[last_old:]) == {unhooked[last_old - 1]}


@pytest.mark.parametrize('schedule', [cosine_only, warmup_then_cosine])
def test_unchanged_schedule_is_left_alone(schedule):
    checkpoint = checkpoint_after(schedule, 4, 2)
    saved = copy.deepcopy(checkpoint)
    optimizer, schedulers, runner = resume(schedule, checkpoint, 4)
    assert checkpoint['param_schedulers'] == saved['param_schedulers']
    assert runner.messages == []
    optimizer2 = new_optimizer()
    fresh = train(optimizer2, schedule(optimizer2, 4), 0, 8)
    assert train(optimizer, schedulers, 4, 8) == fresh[4:]


def test_progress_comes_from_the_checkpoint():
    checkpoint = checkpoint_after(cosine_only, 3, 2)
    optimizer = new_optimizer()
    scheduler, = cosine_only(optimizer, 6)
    runner = Runner([scheduler])
    ResumeScheduleFromConfigHook().after_load_checkpoint(runner, checkpoint)
    state, = checkpoint['param_schedulers']
    assert (state['last_step'], state['_global_step']) == (4, 4)
    assert state['end'] == 12 and state['T_max'] == 16 and state['by_epoch'] is False
    assert configured_attributes(scheduler) == [
        'T_max', 'begin', 'by_epoch', 'end', 'eta_min', 'eta_min_ratio', 'param_name']
    assert 'total_iters' in configured_attributes(LinearLR(optimizer, end=3))


def test_schedulers_of_several_optimizers_and_nothing_to_do():
    old = checkpoint_after(cosine_only, 3, 2)['param_schedulers']
    optimizer = new_optimizer()
    built = dict(backbone=cosine_only(optimizer, 5), head=cosine_only(optimizer, 5))
    checkpoint = dict(param_schedulers=dict(backbone=copy.deepcopy(old),
                                            head=copy.deepcopy(old)))
    runner = Runner(built)
    ResumeScheduleFromConfigHook().after_load_checkpoint(runner, checkpoint)
    assert [s[0]['end'] for s in checkpoint['param_schedulers'].values()] == [10, 10]
    assert {m.split('.')[0] for m in runner.messages} == {
        'ResumeScheduleFromConfigHook: backbone/CosineAnnealingLR',
        'ResumeScheduleFromConfigHook: head/CosineAnnealingLR'}
    # a checkpoint without schedulers, schedulers not built yet: nothing happens
    ResumeScheduleFromConfigHook().after_load_checkpoint(runner, dict(meta={}))
    configs = dict(param_schedulers=copy.deepcopy(old))
    ResumeScheduleFromConfigHook().after_load_checkpoint(
        Runner([dict(type='CosineAnnealingLR')]), configs)
    assert configs['param_schedulers'] == old
