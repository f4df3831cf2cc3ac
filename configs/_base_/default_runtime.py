# Runtime shared by the SDC pre-training configs (MMAction2's default runtime, adapted).
default_scope = 'mmaction'
# `import sdc_mmaction` applies the stack fixes and registers the SDC components.
custom_imports = dict(imports=['sdc_mmaction'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Pre-training has no validation metric, hence no save_best. The score queue of the
    # concept alignment head is saved inside each checkpoint (ConceptQueueHook).
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
    # --resume with a changed schedule (e.g. more epochs) follows the config, not the
    # checkpoint's scheduler `end` (mmengine 0.10.7 restores it)
    resume_schedule=dict(type='ResumeScheduleFromConfigHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
# seed None: mmengine draws one (and logs it); --seed fixes it
randomness = dict(seed=None, diff_rank_seed=False, deterministic=False)
