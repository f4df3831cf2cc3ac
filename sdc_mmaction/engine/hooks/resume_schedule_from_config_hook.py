"""On resume, the parameter schedulers follow the running config, not the checkpoint's."""
import inspect
from typing import Dict, List, Tuple

from mmengine.hooks import Hook
from mmengine.optim.scheduler import _ParamScheduler

from mmaction.registry import HOOKS

#: constructor arguments that are progress or plumbing, not the schedule's shape
_NOT_CONFIGURATION = frozenset(['self', 'args', 'kwargs', 'optimizer', 'last_step',
                                'verbose'])
#: attributes that mmengine's schedulers compute from their arguments in ``__init__``
_DERIVED = ('total_iters', 'cumulative_periods', '_schedule_phases')


def configured_attributes(scheduler: _ParamScheduler) -> List[str]:
    """Names of ``scheduler``'s attributes that its config determines: the arguments of
    its class's ``__init__`` (and its bases') stored under their own name, such as
    ``begin``, ``end``, ``T_max``, ``eta_min``, ``milestones``, plus what mmengine derives
    from them (``total_iters`` ...). Not the progress: ``last_step``, ``_global_step``,
    ``_last_value``, ``base_values``, nor a plateau scheduler's running best."""
    names = set(_DERIVED)
    for cls in type(scheduler).__mro__:
        init = cls.__dict__.get('__init__')
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return sorted((names - _NOT_CONFIGURATION) & set(vars(scheduler)))


@HOOKS.register_module()
class ResumeScheduleFromConfigHook(Hook):
    """Keep the running config's schedule when resuming; take only the progress from the
    checkpoint.

    mmengine 0.10.7 saves each parameter scheduler's whole ``__dict__`` in a checkpoint and
    ``load_state_dict`` puts all of it back over the scheduler just built from the config.
    That includes ``end``, which mmengine fills in from ``train_cfg.max_epochs`` (times
    the epoch length for ``convert_to_iter_based``): resuming with a larger ``max_epochs``
    then keeps the old ``end`` and the learning rate stays frozen at its value of the old
    last iteration for every added epoch.

    In ``after_load_checkpoint`` (called by ``Runner.resume`` before the schedulers load
    their state) this hook overwrites, in each scheduler state of the checkpoint, the
    values the config determines (:func:`configured_attributes`) with those of the
    scheduler built for this run. The step counters and last values still come from the
    checkpoint. Where the change leaves the part of the schedule already run as it was
    (a later ``end``, as more epochs give with the project's configs, whose ``T_max`` is
    fixed in the file), the resumed run then follows a fresh run of the running config
    exactly. Where it reshapes that part too (e.g. a ``T_max`` that follows ``max_epochs``),
    mmengine's chained schedulers go on from the value reached with the new shape, which
    is not quite a fresh run's value. With an unchanged config the values are equal and
    nothing changes. Each value it replaces is logged.

    The schedulers are matched to the checkpoint's by position (as ``Runner.resume``
    does). The hook does nothing when the runner's schedulers are not built yet (a
    ``Runner.resume`` called outside ``train()``) or the checkpoint has none.
    """

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('param_schedulers')
        if not states or not runner.param_schedulers:
            return
        for name, scheduler, state in self._pairs(runner.param_schedulers, states):
            if not isinstance(scheduler, _ParamScheduler) or not isinstance(state, dict):
                continue
            for key in configured_attributes(scheduler):
                configured = getattr(scheduler, key)
                if key in state and state[key] != configured:
                    runner.logger.info(
                        f'ResumeScheduleFromConfigHook: {name}{type(scheduler).__name__}.'
                        f'{key} = {configured!r} from the config (the checkpoint had '
                        f'{state[key]!r})')
                state[key] = configured

    @staticmethod
    def _pairs(schedulers, states) -> List[Tuple[str, _ParamScheduler, Dict]]:
        if isinstance(schedulers, dict):
            return [(f'{group}/', scheduler, state) for group in schedulers
                    for scheduler, state in zip(schedulers[group], states.get(group, ()))]
        return [('', scheduler, state) for scheduler, state in zip(schedulers, states)]

