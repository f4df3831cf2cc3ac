"""Hold the static half of the concept alignment down while the dynamic half starts."""
from typing import Optional

from mmaction.registry import HOOKS
from sdc_mmaction.engine.hooks import HeadWeightWarmupHook


@HOOKS.register_module()
class StaticHalfWarmupHook(HeadWeightWarmupHook):
    """Weight the static half of Eq. 4 by ``warmup_weight`` for the first epochs.

    Not in the paper. The static half learns the scene within a few dozen iterations, and
    through the shared backbone it then pulls the features towards the scene while the
    dynamic half has yet to start; on the generated dataset a static half at weight 0.1
    for the first half of the run, then 1, let both halves learn on one seed of three
    (the study's README). The hook sets the align head's ``static_half_weight`` to
    ``warmup_weight`` for epochs ``0 .. warmup_epochs - 1`` (0-based ``runner.epoch``) and
    to ``static_half_weight`` from epoch ``warmup_epochs`` on, in ``before_train`` and in
    every ``before_train_epoch``, so a resumed run gets the weight of its epoch.

    Args:
        warmup_epochs (int): epochs at the warm-up weight.
        warmup_weight (float): the static half's weight during the warm-up. Default 0.1.
        static_half_weight (float, optional): the weight after it. None (the default)
            takes the head's configured ``static_half_weight``, read in ``before_run``.
        head_name (str): attribute (or dotted path) of the model holding the align
            head. Defaults to ``'align_head'``.

    Only epoch-based training loops are supported.
    """

    attribute = 'static_half_weight'
    what = "the static half's full weight"

    def __init__(self,
                 warmup_epochs: int,
                 warmup_weight: float = 0.1,
                 static_half_weight: Optional[float] = None,
                 head_name: str = 'align_head') -> None:
        super().__init__(warmup_epochs, warmup_weight, static_half_weight, head_name,
                         weight_option='static_half_weight')
