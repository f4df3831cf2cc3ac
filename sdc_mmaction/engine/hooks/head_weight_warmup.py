"""A head's weight held at a warm-up value for the first epochs, then restored: the
mechanics of the L_loc warm-up, shared with other weight warm-ups (e.g. in projects/)."""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop


def unwrap_model(model):
    """The model inside a DDP / FSDP wrapper, or the model itself."""
    return model.module if is_model_wrapper(model) else model


def get_head(runner, head_name: str, hook_name: str):
    """``runner.model.<head_name>`` (unwrapped), with an error naming the hook and head.
    A dotted name reaches a submodule's head, e.g. ``'tower.align_head'``."""
    model = unwrap_model(runner.model)
    try:
        head = model.get_submodule(head_name)
    except AttributeError:  # no such attribute, or not a module (e.g. a head set to None)
        head = None
    if head is None:
        raise AttributeError(f'{hook_name}: the model {type(model).__name__} has no '
                             f'{head_name!r} (set head_name in the hook config)')
    return head


def check_weight(hook_name: str, option: str, value, allow_none: bool) -> Optional[float]:
    """A weight option: a number >= 0 (or None where allowed), as a float."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f'{hook_name}: {option} must be a number >= 0'
                         f'{" or None" if allow_none else ""}, got {value!r}')
    return float(value)


class HeadWeightWarmupHook(Hook):
    """Set ``<head_name>.<attribute>`` to ``warmup_weight`` for epochs
    ``0 .. warmup_epochs - 1`` (0-based ``runner.epoch``) and to ``weight`` from epoch
    ``warmup_epochs`` on.

    ``weight`` None takes the head's configured value, read in ``before_run``, i.e. before
    any checkpoint is loaded. The weight is set in ``before_train`` as well as in every
    ``before_train_epoch``, so a run resumed with ``--resume`` gets the weight of the epoch
    it resumes at, whatever the checkpoint held; the hook keeps no state of its own. Only
    epoch-based training loops are supported. Subclasses name the ``attribute`` and say
    in ``what`` what the weight after the warm-up switches on.
    """

    priority = 'NORMAL'
    attribute = ''
    what = ''

    def __init__(self, warmup_epochs: int, warmup_weight: float,
                 weight: Optional[float], head_name: str,
                 weight_option: str = 'weight') -> None:
        name = type(self).__name__
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) \
                or warmup_epochs < 0:
            raise ValueError(f'{name}: warmup_epochs must be an integer >= 0, got '
                             f'{warmup_epochs!r}')
        self.warmup_epochs = warmup_epochs
        self.warmup_weight = check_weight(name, 'warmup_weight', warmup_weight, False)
        self._configured = check_weight(name, weight_option, weight, True)
        self.head_name = head_name
        self._target_weight: Optional[float] = self._configured
        self._current: Optional[float] = None

    def weight_at(self, epoch: int) -> float:
        """The weight for 0-based ``epoch``."""
        if self._target_weight is None:
            raise RuntimeError(f'{type(self).__name__}: the weight after the warm-up is not '
                               'known yet (before_run has not run)')
        return self.warmup_weight if epoch < self.warmup_epochs else self._target_weight

    def _head(self, runner):
        head = get_head(runner, self.head_name, type(self).__name__)
        if not hasattr(head, self.attribute):
            raise AttributeError(f'{type(self).__name__}: {self.head_name} '
                                 f'({type(head).__name__}) has no {self.attribute}')
        return head

    def before_run(self, runner) -> None:
        head = self._head(runner)
        if self._configured is None:
            weight = getattr(head, self.attribute)
            self._target_weight = float(weight.item() if torch.is_tensor(weight) else weight)
        # runner.train_loop would build the loop (and its dataloader) in test runs
        loop = getattr(runner, '_train_loop', None)
        max_epochs = loop.max_epochs if isinstance(loop, EpochBasedTrainLoop) else None
        if isinstance(max_epochs, int) and self.warmup_epochs >= max_epochs:
            runner.logger.warning(
                f'{type(self).__name__}: warmup_epochs={self.warmup_epochs} >= max_epochs='
                f'{max_epochs}, so {self.what} is never used')

    def before_train(self, runner) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            raise TypeError(f'{type(self).__name__} counts epochs; it does not support '
                            'IterBasedTrainLoop')
        self._apply(runner)

    def before_train_epoch(self, runner) -> None:
        self._apply(runner)

    def _apply(self, runner) -> None:
        head = self._head(runner)
        weight = self.weight_at(runner.epoch)
        current = getattr(head, self.attribute)
        if torch.is_tensor(current):
            with torch.no_grad():
                current.fill_(weight)
        else:
            setattr(head, self.attribute, weight)
        if weight != self._current:
            runner.logger.info(f'{type(self).__name__}: epoch {runner.epoch}: '
                               f'{self.head_name}.{self.attribute} = {weight:g}')
            self._current = weight
