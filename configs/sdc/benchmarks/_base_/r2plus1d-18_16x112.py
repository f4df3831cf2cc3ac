# Shared parts of the downstream configs (Sec. 4.3 of the paper): an MMAction2
# Recognizer3D whose backbone is initialised from an SDC pretraining run, evaluated on
# UCF-101 split 1 by default (the leaf configs switch dataset and protocol).
#
# Loading the pretrained backbone: convert the pretraining checkpoint, then pass it as
# load_from (the classifier head is absent from the file and stays newly initialised):
#   python tools/convert_pretrained.py work_dirs/<pretrain>/epoch_200.pth backbone.pth
#   python tools/train.py configs/sdc/benchmarks/<config>.py --cfg-options load_from=backbone.pth
# ResNet2Plus1d ignores init_cfg (MMAction2's ResNet3d family loads weights through its
# own `pretrained` argument), so load_from is the one mechanism that works for every
# backbone here. The default below names the file the README's recipe writes; a missing
# file stops training with "... can not be found" rather than silently starting from
# random weights.
#
# Schedules, batch sizes and augmentations are our choices: the paper does not give its
# downstream recipes.
_base_ = ['mmaction::_base_/default_runtime.py']

custom_imports = dict(imports=['sdc_mmaction'], allow_failed_imports=False)

# the backbone of the SDC pretraining configs (configs/_base_/models/sdc_r2plus1d_r18.py),
# same layers and strides, so that every pretrained weight finds its place
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='ResNet2Plus1d',
        depth=18,
        pretrained=None,
        pretrained2d=False,
        norm_eval=False,
        conv_cfg=dict(type='Conv2plus1d'),
        norm_cfg=dict(type='SyncBN', requires_grad=True, eps=1e-3),
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
        num_classes=101,
        in_channels=512,
        spatial_type='avg',
        dropout_ratio=0.5,
        init_std=0.01,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'))

# UCF-101 split 1 in MMAction2's layout (tools/data/ucf101 of MMAction2)
dataset_type = 'VideoDataset'
data_root = 'data/ucf101/videos'
data_root_val = 'data/ucf101/videos'
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'
ann_file_val = 'data/ucf101/ucf101_val_split_1_videos.txt'
ann_file_test = 'data/ucf101/ucf101_val_split_1_videos.txt'

clip_len = 16
frame_interval = 1
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='RandomResizedCrop', area_range=(0.2, 1.0)),
    dict(type='Resize', scale=(112, 112), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1, test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
# ten uniformly spaced clips, centre crop, scores averaged: the usual video-level test
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=10, test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        data_prefix=dict(video=data_root_val),
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

# end-to-end fine-tuning; the linear-probe configs replace optimiser and schedule
max_epochs = 100
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 5, eta_min=0, by_epoch=True,
         begin=5, end=max_epochs)
]

default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3, save_best='auto'),
                     resume_schedule=dict(type='ResumeScheduleFromConfigHook'))

# 8 GPUs x 8 clips; --auto-scale-lr rescales the learning rate for other batch sizes
auto_scale_lr = dict(enable=False, base_batch_size=64)

load_from = 'work_dirs/sdc_backbone.pth'
