# The two-tower config on 32 x 32 px frames (a quarter of the time per iteration): the
# CI-size run of the study's claim test.
#   python tools/quickstart.py --preset ci --config THIS_FILE
_base_ = ['./sdc-two-tower_r2plus1d-tiny_synthetic.py']

clip_len = 8
frame_interval = 2
img_size = 32

# the base's pipelines with these values (a config's variables are read where the file
# that uses them is parsed, so the pipelines are restated, not only the numbers)
crops = [
    dict(type='RandomResizedCrop', area_range=(0.3, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
]
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len + 1, frame_interval=frame_interval,
         num_clips=1),
    dict(type='CheckedDecordDecode'),
    dict(type='StaticFrame', clip_len=clip_len, crop_pipeline=crops),
    *crops,
    dict(type='FrameDifference'),
    dict(type='PackConceptInputs', view_names=('clip', 'static', 'diff')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=10, test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, img_size)),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
