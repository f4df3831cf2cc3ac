# A CPU-sized DCLR run on the generated dataset (tools/generate_dataset.py), for tests and
# the method comparison, not for results: R(2+1)D-18 with 8 base channels (64-channel
# output), two 8 x 64 x 64 clips per video (a 1 x 2 x 2 last feature map: at 32 px it
# is one cell, and the activation maps then weight nothing), queue 16, 2 epochs.
#   python tools/generate_dataset.py data/synthetic
#   python tools/train.py configs/dclr/dclr_r2plus1d-tiny_1xb4-8x1x2-2e_synthetic-rgb.py
_base_ = ['./dclr_r2plus1d-r18_8xb8-16x2x2-200e_kinetics400-rgb.py']

clip_len = 8
img_size = 64
max_epochs = 2
channels = 64

model = dict(
    backbone=dict(base_channels=8, norm_cfg=dict(type='BN3d', requires_grad=True, eps=1e-3)),
    head=dict(in_channels=channels, hidden_channels=channels, out_channels=32),
    queue_length=16,
    top_k=2)

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
         transforms=[dict(type='ClipGaussianBlur', kernel_size=5, sigma_range=(0.1, 2.0))]),
]
per_clip = [
    dict(type='StaticFrame', clip_len=clip_len, crop_pipeline=crop + colour),
    *crop,
    *colour,
    dict(type='FrameDifference'),
]
# consecutive frames: two 9-frame clips fit apart in the 16-frame generated videos
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len + 1, frame_interval=1, num_clips=2),
    dict(type='CheckedDecordDecode'),
    dict(type='ClipWiseTransforms', transforms=per_clip,
         shared_keys=('static_frame_position', )),
    dict(type='PackConceptInputs',
         view_names=('clip', 'static', 'diff', 'clip2', 'static2', 'diff2')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    drop_last=True,
    dataset=dict(
        _delete_=True,
        type='SafeVideoDataset',
        data_root='data/synthetic',
        ann_file='annotations/train_action.txt',
        data_prefix=dict(video='videos'),
        pipeline=train_pipeline))

test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=4,
         test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, img_size)),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='SafeVideoDataset',
        data_root='data/synthetic',
        ann_file='annotations/val_action.txt',
        data_prefix=dict(video='videos'),
        pipeline=test_pipeline,
        test_mode=True))

train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[1], gamma=0.1)]
default_hooks = dict(logger=dict(interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)
log_processor = dict(window_size=1)
