from .code_regression_warmup_hook import CodeRegressionWarmupHook
from .static_half_warmup_hook import StaticHalfWarmupHook

__all__ = ['CodeRegressionWarmupHook', 'StaticHalfWarmupHook']
