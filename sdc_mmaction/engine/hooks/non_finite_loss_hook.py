"""Stop (or skip) a training step whose loss or gradients are NaN / Inf, before the update."""
import functools
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict

from mmaction.registry import HOOKS

#: message hub info key holding the number of skipped steps (saved with the checkpoint)
SKIPPED_STEPS_KEY = 'non_finite_skipped_steps'


class NonFiniteLossError(FloatingPointError):
    """A loss term or a gradient was NaN or Inf; raised before the parameters changed."""


def non_finite_loss_terms(losses: Dict) -> Dict[str, float]:
    """``{name: value}`` of the loss terms (keys containing ``'loss'``) that are not finite.

    Terms may be tensors of any shape or lists of tensors (as ``BaseModel.parse_losses``
    accepts); a term is non-finite if any element is. Values are reported as the mean.
    """
    names, flags, means = [], [], []
    for name, value in losses.items():
        if 'loss' not in name:
            continue  # only these are summed into the objective
        tensors = value if isinstance(value, (list, tuple)) else [value]
        if not tensors or not all(torch.is_tensor(t) for t in tensors):
            continue  # parse_losses itself rejects anything but tensors
        names.append(name)
        flags.append(torch.stack([torch.isfinite(t).all() for t in tensors]).all())
        means.append(sum(t.detach().float().mean() for t in tensors))
    if not names:
        return {}
    finite = torch.stack(flags).tolist()  # a single device sync per iteration
    return {name: float(mean) for name, ok, mean in zip(names, finite, means) if not ok}


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Guard the parameter update against NaN / Inf losses and gradients.

    mmengine's ``after_train_iter`` runs after the optimizer step, too late to keep NaN out
    of the weights. This hook therefore installs two guards in ``before_train``:

    - around the model's ``parse_losses`` (called by ``train_step`` between the forward
      pass and ``optim_wrapper.update_params``): every loss term (each key containing
      ``'loss'``, e.g. ``loss_aln``, ``loss_fid``, ``loss_div``, ``loss_loc``) is checked;
    - around the optim wrapper's ``step`` (after ``backward``, before the optimizer and
      before gradient clipping), only for plain ``OptimWrapper`` and with
      ``check_grads=True``: every gradient is checked.

    With ``action='error'`` (the default) a non-finite value raises
    :class:`NonFiniteLossError` naming the iteration (1-based, as in the log), the epoch,
    the batch and the offending loss terms or parameters; the parameters are unchanged and
    the last checkpoint written is the last good one. With ``action='skip'`` the step is
    skipped (no backward / no optimizer step, gradients zeroed), a warning with the running
    count is logged, and training goes on; after ``max_consecutive_skips`` skipped
    iterations in a row it raises anyway. The skipped iteration's non-finite values are kept
    out of the message hub (so no NaN enters the smoothed log values; its log line repeats
    the last logged loss, as mmengine does for any key not updated). The count is kept in
    the message hub under ``'non_finite_skipped_steps'`` (so it survives ``--resume``) and
    logged at the end.

    Data parallel: the ranks vote (a one-element all-reduce per iteration) so that all of
    them stop or skip together; a rank whose own losses are finite reports a non-finite
    loss on another rank. Gradients are checked after DDP has averaged them, so they agree.

    AMP: with ``AmpOptimWrapper`` the loss terms are checked, but the gradients are not:
    overflowing fp16 gradients are routine there, and the loss scaler already skips those
    steps and lowers the scale. Wrappers derived from ``OptimWrapper`` but not from
    ``AmpOptimWrapper`` (e.g. the bfloat16 ``CPUAmpOptimWrapper``) get the gradient check.
    ``OptimWrapperDict``: each wrapper gets the guards.
    Gradient accumulation (``accumulative_counts > 1``): a skipped iteration also drops
    the gradients accumulated so far in its window.

    Checkpoints are protected a second time where they are written: see
    :mod:`sdc_mmaction.engine.atomic_checkpoint`, which refuses to save NaN weights.

    Args:
        action (str): ``'error'`` or ``'skip'``. Defaults to ``'error'``.
        check_grads (bool): check gradients before the optimizer step (plain
            ``OptimWrapper`` only). Defaults to True.
        max_consecutive_skips (int): with ``action='skip'``, raise after this many skipped
            iterations in a row. Defaults to 10.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 action: str = 'error',
                 check_grads: bool = True,
                 max_consecutive_skips: int = 10) -> None:
        if action not in ('error', 'skip'):
            raise ValueError(f"NonFiniteLossHook: action must be 'error' or 'skip', got "
                             f'{action!r}')
        if isinstance(max_consecutive_skips, bool) or not isinstance(
                max_consecutive_skips, int) or max_consecutive_skips < 1:
            raise ValueError('NonFiniteLossHook: max_consecutive_skips must be an integer '
                             f'>= 1, got {max_consecutive_skips!r}')
        self.action = action
        self.check_grads = bool(check_grads)
        self.max_consecutive_skips = max_consecutive_skips
        self._runner = None
        self._installed: List[tuple] = []  # (object, name, previous value, sentinel)
        self._skip_this_iter = False
        self._iter_skipped = False
        self._consecutive = 0
        self._batch_idx: Optional[int] = None
        self._param_names: Dict[int, str] = {}

    # ------------------------------------------------------------------ where we are
    def _where(self) -> str:
        runner = self._runner
        where = f'iteration {runner.iter + 1}'
        if get_world_size() > 1:
            where = f'rank {get_rank()}, {where}'
        loop = runner.train_loop
        if hasattr(loop, 'max_epochs'):
            where += f' (epoch {runner.epoch + 1}'
            if self._batch_idx is not None:
                try:
                    where += f', batch {self._batch_idx + 1}/{len(loop.dataloader)}'
                except TypeError:
                    where += f', batch {self._batch_idx + 1}'
            where += ')'
        return where

    def _last_checkpoint(self) -> str:
        last = self._runner.message_hub.get_info('last_ckpt', None)
        return f'the last checkpoint written is {last}' if last else 'no checkpoint ' \
            'has been written by this run'

    def _fail_or_skip(self, problem: str) -> None:
        """Raise for ``action='error'``; otherwise mark this iteration's step skipped."""
        runner = self._runner
        message = f'NonFiniteLossHook: {problem} at {self._where()}'
        if self.action == 'error':
            message += ('; training stopped before the parameter update '
                        f'({self._last_checkpoint()}). Use '
                        "NonFiniteLossHook(action='skip') to skip such steps instead.")
            runner.logger.error(message)
            raise NonFiniteLossError(message)
        self._skip_this_iter = True
        if not self._iter_skipped:
            self._iter_skipped = True
            self._consecutive += 1
            skipped = runner.message_hub.get_info(SKIPPED_STEPS_KEY, 0) + 1
            runner.message_hub.update_info(SKIPPED_STEPS_KEY, skipped)
            runner.logger.warning(f'{message}; step skipped ({skipped} skipped so far)')
            if self._consecutive >= self.max_consecutive_skips:
                message = (f'NonFiniteLossHook: {self._consecutive} consecutive iterations '
                           f'skipped for non-finite values, the last at {self._where()} '
                           f'({self._last_checkpoint()})')
                runner.logger.error(message)
                raise NonFiniteLossError(message)

    # ------------------------------------------------------------------ guards
    def _guard_parse_losses(self, original):

        @functools.wraps(original)
        def parse_losses(losses):
            bad = non_finite_loss_terms(losses)
            bad_elsewhere = self._bad_on_another_rank(losses, bad)  # every rank votes
            self._skip_this_iter = False
            if bad:
                terms = ', '.join(f'{name}={value}' for name, value in bad.items())
                self._fail_or_skip(f'non-finite loss term(s) {terms}')
            elif bad_elsewhere:
                self._fail_or_skip('non-finite loss on another rank')
            loss, log_vars = original(losses)
            if self._skip_this_iter:
                # keep NaN out of the smoothed values in the log
                log_vars = type(log_vars)(
                    (k, v) for k, v in log_vars.items()
                    if not (torch.is_tensor(v) and not torch.isfinite(v).all()))
            return loss, log_vars

        return parse_losses

    @staticmethod
    def _bad_on_another_rank(losses: Dict, bad: Dict) -> bool:
        """Under data parallelism, whether some rank found a non-finite loss.

        Every rank must take the same decision: a rank that stopped or skipped its
        backward pass alone would leave the others waiting in DDP's gradient all-reduce.
        (Gradients need no such vote: DDP has already averaged them across ranks.)
        """
        if get_world_size() <= 1:
            return False
        device = next((t.device for v in losses.values()
                       for t in (v if isinstance(v, (list, tuple)) else [v])
                       if torch.is_tensor(t)), torch.device('cpu'))
        flag = torch.tensor([1.0 if bad else 0.0], device=device)
        all_reduce(flag, op='max')
        return bool(flag.item() > 0) and not bad

    def _guard_update_params(self, wrapper, original):

        @functools.wraps(original)
        def update_params(loss, step_kwargs=None, zero_kwargs=None):
            if self._skip_this_iter:
                wrapper.zero_grad(**(zero_kwargs or {}))
                return None
            return original(loss, step_kwargs=step_kwargs, zero_kwargs=zero_kwargs)

        return update_params

    def _guard_step(self, wrapper, original):

        # wraps() keeps the `_with_counter` mark mmengine's parameter schedulers put on
        # the wrapper's step (they warn about an overridden step without it)
        @functools.wraps(original)
        def step(**kwargs):
            bad = self._non_finite_grads(wrapper)
            if bad:
                shown = ', '.join(bad[:5]) + (f' and {len(bad) - 5} more'
                                              if len(bad) > 5 else '')
                self._fail_or_skip(f'non-finite gradient(s) in {shown}')
                wrapper.zero_grad()
                return None
            return original(**kwargs)

        return step

    def _non_finite_grads(self, wrapper) -> List[str]:
        params = [p for group in wrapper.optimizer.param_groups for p in group['params']
                  if p.grad is not None]
        if not params:
            return []
        flags = torch.stack([torch.isfinite(p.grad).all() for p in params]).tolist()
        return [self._param_names.get(id(p), f'<parameter {i}>')
                for i, (p, ok) in enumerate(zip(params, flags)) if not ok]

    def _patch(self, obj, name: str, value) -> None:
        # An instance attribute shadows the class's method for this object only. Some are
        # already instance attributes (mmengine's schedulers wrap the optim wrapper's
        # step): remember those to put them back.
        missing = object()
        self._installed.append((obj, name, vars(obj).get(name, missing), missing))
        setattr(obj, name, value)

    def before_train(self, runner) -> None:
        self._runner = runner
        self._consecutive = 0
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._param_names = {id(p): n for n, p in model.named_parameters()}
        self._patch(model, 'parse_losses', self._guard_parse_losses(model.parse_losses))
        wrappers = (list(runner.optim_wrapper.values())
                    if isinstance(runner.optim_wrapper, OptimWrapperDict)
                    else [runner.optim_wrapper])
        for wrapper in wrappers:
            self._patch(wrapper, 'update_params',
                        self._guard_update_params(wrapper, wrapper.update_params))
            if self.check_grads and isinstance(wrapper, OptimWrapper) and \
                    not isinstance(wrapper, AmpOptimWrapper):
                self._patch(wrapper, 'step', self._guard_step(wrapper, wrapper.step))
        skipped = runner.message_hub.get_info(SKIPPED_STEPS_KEY, 0)
        if skipped:
            runner.logger.info(f'NonFiniteLossHook: {skipped} step(s) skipped before '
                               'this resume')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._batch_idx = batch_idx
        self._skip_this_iter = False
        self._iter_skipped = False

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self._iter_skipped:
            self._consecutive = 0

    def after_train(self, runner) -> None:
        for obj, name, previous, missing in reversed(self._installed):
            if previous is missing:
                vars(obj).pop(name, None)
            else:
                setattr(obj, name, previous)
        self._installed.clear()
        skipped = runner.message_hub.get_info(SKIPPED_STEPS_KEY, 0)
        if self.action == 'skip' or skipped:
            runner.logger.info(f'NonFiniteLossHook: {skipped} training step(s) skipped for '
                               'non-finite loss or gradients')
