"""StaticHalfWarmupHook and CodeRegressionWarmupHook with a stand-in runner."""

import pytest
import torch
import torch.nn as nn

import projects.cpu_scale_study.cpu_scale_study  # noqa: F401  (registration)
from hook_helpers import fake_runner, weights_over_epochs
from mmaction.registry import HOOKS, MODELS
from projects.cpu_scale_study.cpu_scale_study.engine import (CodeRegressionWarmupHook,
                                                              StaticHalfWarmupHook)

KS, KD = 3, 2


class HeadsOnly(nn.Module):
    """The study's align head and the local head, without a backbone."""

    def __init__(self):
        super().__init__()
        self.align_head = MODELS.build(dict(
            type='TeacherConceptAlignHead', in_channels=4, num_static_concepts=KS,
            num_dynamic_concepts=KD))
        self.local_head = MODELS.build(dict(
            type='LocalConceptContrastHead', in_channels=4, num_static_concepts=KS,
            num_dynamic_concepts=KD, top_k=1))

    def align_loss(self, batch_size=4, seed=0):
        gen = torch.Generator().manual_seed(seed)
        pooled = {v: torch.randn(batch_size, 4, generator=gen)
                  for v in ('clip', 'static', 'diff')}
        return self.align_head.loss(pooled, self.align_head(pooled))


def test_static_half_warmup_schedule_resume_and_errors():
    model = HeadsOnly()
    model.align_head.static_half_weight = 0.8  # as configured
    hook = HOOKS.build(dict(type='StaticHalfWarmupHook', warmup_epochs=2, warmup_weight=0.1))
    runner = fake_runner(model)
    weights = weights_over_epochs(hook, runner, lambda: model.align_head.static_half_weight)
    assert weights == [0.1, 0.1, 0.8, 0.8]
    # the weight reaches the loss: the halves are logged unweighted
    losses = model.align_loss()
    torch.testing.assert_close(losses['loss_aln'],
                               0.8 * losses['aln_static'] + losses['aln_dynamic'])
    # resumed at epoch 1 with a checkpoint's head at 0.8: back to the warm-up weight
    resumed = StaticHalfWarmupHook(warmup_epochs=2, static_half_weight=1.0)
    runner.epoch = 1
    resumed.before_run(runner)
    resumed.before_train(runner)
    assert model.align_head.static_half_weight == 0.1
    assert resumed.weight_at(2) == 1.0
    with pytest.raises(ValueError, match='warmup_weight'):
        StaticHalfWarmupHook(warmup_epochs=1, warmup_weight=-0.1)
    with pytest.raises(ValueError, match='static_half_weight'):
        StaticHalfWarmupHook(warmup_epochs=1, static_half_weight='1')
    with pytest.raises(ValueError, match='warmup_epochs'):
        StaticHalfWarmupHook(warmup_epochs=1.5)
    with pytest.raises(AttributeError, match='has no static_half_weight'):
        StaticHalfWarmupHook(warmup_epochs=1, head_name='local_head').before_run(runner)


def test_code_regression_warmup_schedule_and_errors():
    model = HeadsOnly()
    model.align_head.dynamic_code_regression_weight = 3.0  # as configured
    hook = HOOKS.build(dict(type='CodeRegressionWarmupHook', warmup_epochs=2,
                            warmup_weight=10.0))
    runner = fake_runner(model)
    weights = weights_over_epochs(
        hook, runner, lambda: model.align_head.dynamic_code_regression_weight)
    assert weights == [10.0, 10.0, 3.0, 3.0]
    resumed = CodeRegressionWarmupHook(warmup_epochs=2, warmup_weight=10.0,
                                       dynamic_code_regression_weight=1.0)
    runner.epoch = 1
    resumed.before_run(runner)
    resumed.before_train(runner)
    assert model.align_head.dynamic_code_regression_weight == 10.0
    assert resumed.weight_at(2) == 1.0
    with pytest.raises(ValueError, match='dynamic_code_regression_weight'):
        CodeRegressionWarmupHook(warmup_epochs=1, warmup_weight=1.0,
                                 dynamic_code_regression_weight=-1)
    with pytest.raises(AttributeError, match='has no dynamic_code_regression_weight'):
        CodeRegressionWarmupHook(warmup_epochs=1, warmup_weight=1.0,
                                 head_name='local_head').before_run(runner)
