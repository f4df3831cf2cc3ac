from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper, amp_optim_wrapper_cfg

__all__ = ['CPUAmpOptimWrapper', 'amp_optim_wrapper_cfg']
