# DCLR in the method comparison (tools/compare_methods.py): the tiny DCLR run of
# dclr_r2plus1d-tiny_1xb4-8x1x2-2e_synthetic-rgb.py brought to the budget of the SDC quick
# start (configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py): the same backbone,
# clips of 8 frames taken every second frame, 64 x 64 crops, AdamW with a cosine schedule
# and the same scale for the frame difference. DCLR keeps its own augmentations (colour,
# grey, blur) and two clips per video; the queue holds 8 batches of 8.
#   python tools/generate_dataset.py data/synthetic
#   python tools/train.py configs/dclr/dclr_r2plus1d-tiny_1xb4-8x2x2-8e_synthetic-rgb.py
_base_ = ['./dclr_r2plus1d-tiny_1xb4-8x1x2-2e_synthetic-rgb.py']

clip_len = 8
frame_interval = 2
max_epochs = 8

model = dict(queue_length=64, data_preprocessor=dict(diff_std=8.0))

# the base config's per-clip views, restated (mmengine does not merge lists)
crop = [
    dict(type='RandomResizedCrop', area_range=(0.2, 1.0)),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
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
# two 17-frame spans fit in the 24-frame videos of the quick start's data
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len + 1, frame_interval=frame_interval,
         num_clips=2),
    dict(type='CheckedDecordDecode'),
    dict(type='ClipWiseTransforms', transforms=per_clip,
         shared_keys=('static_frame_position', )),
    dict(type='PackConceptInputs',
         view_names=('clip', 'static', 'diff', 'clip2', 'static2', 'diff2')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=1e-5))
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
