"""Switch the local concept contrast loss on after a warm-up (Sec. 3.3, last paragraph)."""
from typing import Optional

import torch

from mmaction.registry import HOOKS
from .head_weight_warmup import HeadWeightWarmupHook

#: optimisers that divide the step by a running gradient scale: with weight decay added to
#: a zero loss gradient, that scale is the decay itself and the step stays near ``lr``.
#: Measured on a zero-gradient 64 x 64 layer (lr 3e-3, weight decay 1e-5, 24 steps): mean
#: |w| 0.062 fell to 0.016 (Adam), 0.022 (NAdam), 0.020 (Adamax), 0.0003 (RMSprop), 0.041
#: (Adagrad); RAdam's rectification delays it (0.059 after 24 steps, 0.009 after 200).
#: AdamW (a subclass of Adam) and the ``decoupled_weight_decay=True`` variants of Adam,
#: NAdam and RAdam are told apart by that param-group flag.
NORMALISING_OPTIMIZERS = (torch.optim.Adam, torch.optim.Adamax, torch.optim.NAdam,
                          torch.optim.RAdam, torch.optim.RMSprop, torch.optim.Adagrad)


@HOOKS.register_module()
class LocalLossWarmupHook(HeadWeightWarmupHook):
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
        head_name (str): attribute (or dotted path) of the model holding the local
            head. Defaults to ``'local_head'``.

    Only epoch-based training loops are supported (the warm-up counts epochs).
    """

    attribute = 'loss_weight'
    what = 'the local concept contrast loss'

    def __init__(self,
                 warmup_epochs: int = 5,
                 loss_weight: Optional[float] = None,
                 head_name: str = 'local_head') -> None:
        super().__init__(warmup_epochs, 0.0, loss_weight, head_name,
                         weight_option='loss_weight')
        self.loss_weight = self._configured

    def before_train(self, runner) -> None:
        if self.warmup_epochs > 0 and runner.epoch < self.warmup_epochs:
            self._warn_if_decay_wipes_the_head(runner)
        super().before_train(runner)

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
