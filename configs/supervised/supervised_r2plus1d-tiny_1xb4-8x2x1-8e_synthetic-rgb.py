# Supervised baseline of the method comparison (tools/compare_methods.py): the backbone of
# configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py (R(2+1)D-18, 8 base
# channels) trained from scratch on the generated dataset's action label (scene x motion),
# with the same clips, crops, optimiser and schedule as that SDC config. An upper bound for
# the self-supervised methods, not a result of its own.
#   python tools/generate_dataset.py data/synthetic
#   python tools/train.py configs/supervised/supervised_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py
# Another dataset folder: --cfg-options train_dataloader.dataset.data_root=PATH
# (and model.cls_head.num_classes=N for other than 16 action classes).
_base_ = ['../_base_/default_runtime.py']

clip_len = 8
frame_interval = 2
img_size = 64
max_epochs = 8

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='ResNet2Plus1d',
        depth=18,
        base_channels=8,
        pretrained=None,
        pretrained2d=False,
        norm_eval=False,
        conv_cfg=dict(type='Conv2plus1d'),
        norm_cfg=dict(type='BN3d', requires_grad=True, eps=1e-3),
        act_cfg=dict(type='ReLU'),
        conv1_kernel=(3, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        inflate=(1, 1, 1, 1),
        spatial_strides=(1, 2, 2, 2),
        temporal_strides=(1, 2, 2, 2),
        zero_init_residual=False),
    cls_head=dict(
        type='I3DHead',
        num_classes=16,
        in_channels=64,
        spatial_type='avg',
        dropout_ratio=0.0,
        init_std=0.01,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'))

train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1),
    dict(type='CheckedDecordDecode'),
    dict(type='RandomResizedCrop', area_range=(0.3, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='SafeVideoDataset',
        data_root='data/synthetic',
        ann_file='annotations/train_action.txt',
        data_prefix=dict(video='videos'),
        pipeline=train_pipeline))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=3e-3, weight_decay=1e-5))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)
log_processor = dict(window_size=1)
