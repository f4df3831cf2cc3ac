# Study variant (not the paper): the frame difference's Sinkhorn targets come from a
# moving-average copy of the backbone (TeacherConceptRecognizer), with a one-block backbone
# of 16 base channels, sigma the MLP, the static half at 0.3 for 20 epochs, L_loc off and
# no score queue. Why each: ../README.md.
#   python tools/quickstart.py --config THIS_FILE --max-epochs 40
_base_ = ['../../../configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py']

custom_imports = dict(
    imports=['sdc_mmaction', 'projects.cpu_scale_study.cpu_scale_study'],
    allow_failed_imports=False)

channels = 128  # 16 * 2 ** 3
max_epochs = 40

model = dict(
    type='TeacherConceptRecognizer',
    target_momentum=0.001,  # OpenMMLab's convention: the target keeps 99.9 % per step
    target_views=('diff', ),
    backbone=dict(stage_blocks=(1, 1, 1, 1), base_channels=16),
    align_head=dict(
        type='TeacherConceptAlignHead',
        in_channels=channels,
        fidelity_hidden_channels=channels,
        # _delete_: the base sets projection=None, which a dict cannot be merged into
        projection=dict(_delete_=True, with_norm=True),
        static_half_weight=1.0,
        queue_length=0),
    local_head=dict(in_channels=channels))

train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
custom_hooks = [
    # L_loc stays at weight 0 (the head stays in the graph, so DDP needs no
    # find_unused_parameters, and F_v is still computed for the analyses)
    dict(type='LocalLossWarmupHook', warmup_epochs=1000),
    dict(type='StaticHalfWarmupHook', warmup_epochs=20, warmup_weight=0.3),
    dict(type='ConceptQueueHook'),
    dict(type='NonFiniteLossHook'),
]
