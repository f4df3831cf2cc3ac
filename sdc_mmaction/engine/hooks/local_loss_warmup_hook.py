"""Switch the local concept contrast loss on after a warm-up (Sec. 3.3, last paragraph)."""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmaction.registry import HOOKS

#: optimisers that divide the step by a running gradient scale: with weight decay added to
#: a zero loss gradient, that scale is the decay itself and the step stays near ``lr``.
#: Measured on a zero-gradient 64 x 64 layer (lr 3e-3, weight decay 1e-5, 24 steps): mean
#: |w| 0.062 fell to 0.016 (Adam), 0.022 (NAdam), 0.020 (Adamax), 0.0003 (RMSprop), 0.041
#: (Adagrad); RAdam's rectification delays it (0.059 after 24 steps, 0.009 after 200).
#: AdamW (a subclass of Adam) and the ``decoupled_weight_decay=True`` variants of Adam,
#: NAdam and RAdam are told apart by that param-group flag.
NORMALISING_OPTIMIZERS = (torch.optim.Adam, torch.optim.Adamax, torch.optim.NAdam,
                          torch.optim.RAdam, torch.optim.RMSprop, torch.optim.Adagrad)


def unwrap_model(model):
    """The model inside a DDP / FSDP wrapper, or the model itself."""
    return model.module if is_model_wrapper(model) else model


def get_head(runner, head_name: str, hook_name: str):
    """``runner.model.<head_name>`` (unwrapped), with an error naming the hook and head."""
    model = unwrap_model(runner.model)
    head = getattr(model, head_name, None)
    if head is None:
        raise AttributeError(f'{hook_name}: the model {type(model).__name__} has no '
                             f'{head_name!r} (set head_name in the hook config)')
    return head


@HOOKS.register_module()
class LocalLossWarmupHook(Hook):
    """Keep ``L_loc`` off for the first epochs, then weight it by alpha (Eq. 11).

    The local loss pairs concepts chosen by the top-K codes (Eq. 8), which are random
    until the prototypes have learnt something, so the paper leaves it out for the first 5
    epochs. The hook sets the local head's ``loss_weight`` to 0 for epochs
    ``0 .. warmup_epochs - 1`` (0-based ``runner.epoch``) and to ``loss_weight`` (alpha)
    from epoch ``warmup_epochs`` on. It sets the weight in ``before_train`` as well as in
    every ``before_train_epoch``, so a run resumed with ``--resume`` gets the weight of the
    epoch it resumes at, whatever the checkpoint held.

    DDP: ``LocalConceptContrastHead`` multiplies its loss by the weight rather than
    skipping it, so with a weight of 0 its parameters still take part in the backward
    pass (with zero gradients) and DDP needs no ``find_unused_parameters``. The price:
    an optimiser that adds its weight decay to the gradient and then normalises the step
    (``torch.optim.Adam``, RMSprop and the like, with ``weight_decay > 0``) moves those
    zero-gradient weights about ``lr`` per step towards zero, wiping the head during the
    warm-up. The hook warns in ``before_train`` when the head's parameters are in such a
    group; use AdamW (decoupled decay) or no weight decay for the head.

    Args:
        warmup_epochs (int): epochs without the local loss. Defaults to 5 (Sec. 3.3).
        loss_weight (float, optional): alpha, the weight after the warm-up. None (the
            default) takes the head's configured ``loss_weight``, read in ``before_run``,
            i.e. before any checkpoint is loaded.
        head_name (str): attribute of the model holding the local head. Defaults to
            ``'local_head'``.

    Only epoch-based training loops are supported (the warm-up counts epochs).
    """

    priority = 'NORMAL'

    def __init__(self,
                 warmup_epochs: int = 5,
                 loss_weight: Optional[float] = None,
                 head_name: str = 'local_head') -> None:
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) \
                or warmup_epochs < 0:
            raise ValueError('LocalLossWarmupHook: warmup_epochs must be an integer >= 0, '
                             f'got {warmup_epochs!r}')
        if loss_weight is not None and (isinstance(loss_weight, bool) or
                                        not isinstance(loss_weight, (int, float)) or
                                        loss_weight < 0):
            raise ValueError('LocalLossWarmupHook: loss_weight must be a number >= 0 or '
                             f'None, got {loss_weight!r}')
        self.warmup_epochs = warmup_epochs
        self.loss_weight = None if loss_weight is None else float(loss_weight)
        self.head_name = head_name
        self._target_weight: Optional[float] = self.loss_weight
        self._current: Optional[float] = None

    def weight_at(self, epoch: int) -> float:
        """The local loss weight for 0-based ``epoch``."""
        if self._target_weight is None:
            raise RuntimeError('LocalLossWarmupHook: the weight after the warm-up is not '
                               'known yet (before_run has not run)')
        return 0.0 if epoch < self.warmup_epochs else self._target_weight

    def _head(self, runner):
        head = get_head(runner, self.head_name, type(self).__name__)
        if not hasattr(head, 'loss_weight'):
            raise AttributeError(f'LocalLossWarmupHook: {self.head_name} '
                                 f'({type(head).__name__}) has no loss_weight')
        return head

    def before_run(self, runner) -> None:
        head = self._head(runner)
        if self.loss_weight is None:
            weight = head.loss_weight
            self._target_weight = float(weight.item() if torch.is_tensor(weight) else weight)
        # runner.train_loop would build the loop (and its dataloader) in test runs
        loop = getattr(runner, '_train_loop', None)
        max_epochs = loop.max_epochs if isinstance(loop, EpochBasedTrainLoop) else None
        if isinstance(max_epochs, int) and self.warmup_epochs >= max_epochs:
            runner.logger.warning(
                f'LocalLossWarmupHook: warmup_epochs={self.warmup_epochs} >= max_epochs='
                f'{max_epochs}, so the local concept contrast loss is never used')

    def before_train(self, runner) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            raise TypeError('LocalLossWarmupHook counts epochs; it does not support '
                            'IterBasedTrainLoop')
        if self.warmup_epochs > 0 and runner.epoch < self.warmup_epochs:
            self._warn_if_decay_wipes_the_head(runner)
        self._apply(runner)

    def _warn_if_decay_wipes_the_head(self, runner) -> None:
        optimizer = getattr(getattr(runner, 'optim_wrapper', None), 'optimizer', None)
        if not isinstance(optimizer, NORMALISING_OPTIMIZERS):
            return
        head_params = {id(param) for param in self._head(runner).parameters()}
        for group in optimizer.param_groups:
            coupled = group.get('weight_decay', 0) > 0 and \
                not group.get('decoupled_weight_decay', False)
            if coupled and any(id(param) in head_params for param in group['params']):
                runner.logger.warning(
                    f'LocalLossWarmupHook: {type(optimizer).__name__} adds weight_decay='
                    f"{group['weight_decay']:g} to the gradient, so during the "
                    f'{self.warmup_epochs} warm-up epoch(s) the zero-gradient weights of '
                    f'{self.head_name} move about lr={group["lr"]:g} per step towards zero; '
                    'use AdamW (decoupled weight decay) or no weight decay for the head')
                return

    def before_train_epoch(self, runner) -> None:
        self._apply(runner)

    def _apply(self, runner) -> None:
        head = self._head(runner)
        weight = self.weight_at(runner.epoch)
        if torch.is_tensor(head.loss_weight):
            with torch.no_grad():
                head.loss_weight.fill_(weight)
        else:
            head.loss_weight = weight
        if weight != self._current:
            runner.logger.info(f'LocalLossWarmupHook: epoch {runner.epoch}: '
                               f'{self.head_name}.loss_weight = {weight:g}')
            self._current = weight
