# SDC pre-training of S3D on Kinetics-400 (Sec. 4.2, Table 1): 16 x 128 x 128 clips and
# otherwise the R(2+1)D-18 recipe (sdc_r2plus1d-r18_8xb8-16x1x1-100e_kinetics400-rgb.py).
_base_ = ['./sdc_r2plus1d-r18_8xb8-16x1x1-100e_kinetics400-rgb.py']

# S3D as in CoCLR (no feature gating); its last feature map is (N, 1024, T/8, H/32, W/32),
# 2 x 4 x 4 for 16 x 128 x 128 clips.
model = dict(
    backbone=dict(
        _delete_=True,
        type='S3D',
        width_multiplier=1.0,
        use_gating=False,
        norm_cfg=dict(type='SyncBN', requires_grad=True, eps=1e-3)),
    align_head=dict(in_channels=1024),
    local_head=dict(in_channels=1024))

clip_len = 16
img_size = 128
crops = [
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
]
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len + 1, frame_interval=1, num_clips=1),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 146)),  # 128 * 8 / 7, as 128 for 112 px crops
    dict(type='StaticFrame', clip_len=clip_len, crop_pipeline=crops),
    *crops,
    dict(type='FrameDifference'),
    dict(type='PackConceptInputs', view_names=('clip', 'static', 'diff')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# tools/test.py: the retrieval test of the base config at this config's clip size
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=10,
         test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 146)),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
