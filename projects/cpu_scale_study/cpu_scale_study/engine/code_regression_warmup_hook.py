"""Weight the regression of the raw dynamic codes differently while the run starts."""
from typing import Optional

from mmaction.registry import HOOKS
from sdc_mmaction.engine.hooks import HeadWeightWarmupHook


@HOOKS.register_module()
class CodeRegressionWarmupHook(HeadWeightWarmupHook):
    """Weight ``loss_code_reg`` by ``warmup_weight`` for the first epochs.

    Not in the paper. On the generated dataset the regression of ``q_v^d`` onto the target
    network's codes of ``d`` brings the motion into the backbone at a weight of 10 but
    takes the static half down, while at 3 the static half learns and on some seeds the
    dynamic half never starts (the study's README); this hook lets one run use one weight for the first epochs and another
    after. It sets the align head's
    ``dynamic_code_regression_weight`` to ``warmup_weight`` for epochs
    ``0 .. warmup_epochs - 1`` (0-based ``runner.epoch``) and to
    ``dynamic_code_regression_weight`` from epoch ``warmup_epochs`` on, in
    ``before_train`` and in every ``before_train_epoch``, so a resumed run gets the weight
    of its epoch.

    Args:
        warmup_epochs (int): epochs at the warm-up weight.
        warmup_weight (float): the regression's weight during the warm-up.
        dynamic_code_regression_weight (float, optional): the weight after it. None (the
            default) takes the head's configured value, read in ``before_run``.
        head_name (str): attribute (or dotted path) of the model holding the align
            head. Defaults to ``'align_head'``.

    The regression needs a target network's codes of ``d`` whenever its weight is above
    0, so configure the recognizer's ``target_momentum`` even if the head's own weight is
    0. Only epoch-based training loops are supported.
    """

    attribute = 'dynamic_code_regression_weight'
    what = "the code regression's weight after the warm-up"

    def __init__(self,
                 warmup_epochs: int,
                 warmup_weight: float,
                 dynamic_code_regression_weight: Optional[float] = None,
                 head_name: str = 'align_head') -> None:
        super().__init__(warmup_epochs, warmup_weight, dynamic_code_regression_weight,
                         head_name, weight_option='dynamic_code_regression_weight')
