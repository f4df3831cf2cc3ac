# DCLR pre-training of R(2+1)D-18 on Kinetics-400: 16 x 112 x 112 clips, two clips per
# video, SGD lr 0.01, wd 1e-4, 200 epochs, lr x 0.1 at 120 and 160, queue 16384.
#   bash tools/dist_train.sh configs/dclr/dclr_r2plus1d-r18_8xb8-16x2x2-200e_kinetics400-rgb.py 8
# Choices and deviations from the authors' code: configs/dclr/README.md.
_base_ = [
    '../_base_/models/dclr_r2plus1d_r18.py', '../_base_/default_runtime.py'
]

clip_len = 16
img_size = 112
max_epochs = 200

dataset_type = 'SafeVideoDataset'
data_root = 'data/kinetics400/videos_train'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'

# Per clip: its own crop, colour and blur; the static frame its own again. d is the
# difference of the augmented clip without wrap-around (the authors' code wraps).
# SampleFrames draws the two clips from the two halves of the video (the authors: two
# independent random starts).
crop = [
    dict(type='RandomResizedCrop', area_range=(0.2, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
]
colour = [
    dict(type='TransformBroadcaster', mapping={'img': 'imgs'}, auto_remap=True,
         share_random_params=True,
         transforms=[dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
                          channel_weights=(0.299, 0.587, 0.114))]),
    dict(type='RandomApply', prob=0.8,
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)]),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='RandomApply', prob=0.5,
         transforms=[dict(type='ClipGaussianBlur', kernel_size=11,
                          sigma_range=(0.1, 2.0))]),
]
per_clip = [
    dict(type='StaticFrame', clip_len=clip_len, crop_pipeline=crop + colour),
    *crop,
    *colour,
    dict(type='FrameDifference'),
]
train_pipeline = [
    dict(type='CheckedDecordInit'),
    # 2 clips of T + 1 frames at stride 2 (the extra leading frame gives d[0])
    dict(type='SampleFrames', clip_len=clip_len + 1, frame_interval=2, num_clips=2),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='ClipWiseTransforms', transforms=per_clip,
         shared_keys=('static_frame_position', )),
    dict(type='PackConceptInputs',
         view_names=('clip', 'static', 'diff', 'clip2', 'static2', 'diff2')),
]
train_dataloader = dict(
    batch_size=8,  # 8 x 8 = 64 divides the queue; the authors' 40 divides neither queue
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    drop_last=True,  # the queue takes whole global batches
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline,
        skip_bad_videos=True))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[120, 160], gamma=0.1)
]
# The queues are model buffers (saved in every checkpoint). No frozen queue-fill phase
# (the authors skip 256 optimizer steps): cross-video positives come only from filled rows.
custom_hooks = [dict(type='NonFiniteLossHook')]

# tools/test.py CONFIG CHECKPOINT: leave-one-out retrieval of the query backbone's v
ann_file_test = 'data/kinetics400/kinetics400_val_list_videos.txt'
data_root_test = 'data/kinetics400/videos_val'
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=2, num_clips=10,
         test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        data_prefix=dict(video=data_root_test),
        pipeline=test_pipeline,
        test_mode=True))
test_evaluator = dict(type='VideoRetrievalMetric', topk=(1, 5, 10), feature_key='v')
test_cfg = dict(type='TestLoop')

# The authors trained with 40 clips (8 GPUs x 5) at lr 0.01; --auto-scale-lr rescales.
auto_scale_lr = dict(enable=False, base_batch_size=40)
