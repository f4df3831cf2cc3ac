from .concept_queue_hook import ConceptQueueHook
from .head_weight_warmup import HeadWeightWarmupHook, get_head
from .local_loss_warmup_hook import LocalLossWarmupHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .resume_schedule_from_config_hook import ResumeScheduleFromConfigHook

__all__ = ['ConceptQueueHook', 'HeadWeightWarmupHook', 'LocalLossWarmupHook',
           'NonFiniteLossError', 'NonFiniteLossHook', 'ResumeScheduleFromConfigHook',
           'get_head']
