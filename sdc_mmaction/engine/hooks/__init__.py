from .code_regression_warmup_hook import CodeRegressionWarmupHook
from .concept_queue_hook import ConceptQueueHook
from .local_loss_warmup_hook import LocalLossWarmupHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .resume_schedule_from_config_hook import ResumeScheduleFromConfigHook
from .static_half_warmup_hook import StaticHalfWarmupHook

__all__ = ['CodeRegressionWarmupHook', 'ConceptQueueHook', 'LocalLossWarmupHook',
           'NonFiniteLossError', 'NonFiniteLossHook', 'ResumeScheduleFromConfigHook',
           'StaticHalfWarmupHook']
