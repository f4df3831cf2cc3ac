# Runtime of the pretraining configs: MMAction2's default runtime, with the plugin imported
# and checkpoints kept for resuming (pretraining has no validation metric to pick a best).
_base_ = ['mmaction::_base_/default_runtime.py']

# `import sdc_mmaction` applies the stack fixes and registers the plugin's components.
custom_imports = dict(imports=['sdc_mmaction'], allow_failed_imports=False)

default_hooks = dict(
    # the score queue of the concept alignment head is saved in each checkpoint too
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_last=True,
                    save_best=None),
    # --resume with a changed schedule (e.g. more epochs) follows the config, not the
    # checkpoint's scheduler `end` (mmengine 0.10.7 restores it)
    resume_schedule=dict(type='ResumeScheduleFromConfigHook'))

# seed None: mmengine draws one (and logs it); --seed fixes it
randomness = dict(seed=None, diff_rank_seed=False, deterministic=False)
