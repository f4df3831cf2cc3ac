# The S3D variant of the downstream base: S3D backbone (this package's, 1024 channels, as
# in configs/sdc/sdc_s3d_8xb8-16x1x1-100e_kinetics400-rgb.py), 32 x 128 x 128 clips as in the paper's UCF-101-pretrained
# S3D fine-tuning row (Table 1). Its Kinetics-400 rows used 16 frames: add
#   --cfg-options train_dataloader.dataset.pipeline.1.clip_len=16 \
#       val_dataloader.dataset.pipeline.1.clip_len=16 \
#       test_dataloader.dataset.pipeline.1.clip_len=16
_base_ = ['./r2plus1d-18_16x112.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='S3D',
        width_multiplier=1.0,
        use_gating=False,
        norm_cfg=dict(type='SyncBN', requires_grad=True, eps=1e-3),
        norm_eval=False),
    cls_head=dict(in_channels=1024))

clip_len = 32
frame_interval = 1
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 146)),
    dict(type='RandomResizedCrop', area_range=(0.2, 1.0)),
    dict(type='Resize', scale=(128, 128), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1, test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 146)),
    dict(type='CenterCrop', crop_size=128),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=10, test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 146)),
    dict(type='CenterCrop', crop_size=128),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
