# The tiny generated-dataset run of CoCon with the frame difference (FrameDifference, one
# frame more per clip, its own crop) as the second view instead of optical flow: what flow
# buys over the difference, at CPU scale. Needs only the RGB frames of tools/extract_flow.py.
#   python tools/train.py configs/cocon/cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-diff.py
_base_ = ['./cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-flow.py']

num_blocks = 4
block_len = 3
img_size = 64

model = dict(
    views=dict(_delete_=True, rgb=dict(in_channels=3), diff=dict(in_channels=3)),
    data_preprocessor=dict(
        mean=dict(_delete_=True, rgb=[123.675, 116.28, 103.53], diff=[0.0, 0.0, 0.0]),
        # differences are centred on zero; the RGB std puts d on the scale of v
        std=dict(_delete_=True, rgb=[58.395, 57.12, 57.375], diff=[58.395, 57.12, 57.375])))

crops = [
    dict(type='RandomResizedCrop', area_range=(0.3, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
]
train_pipeline = [
    # one frame more, so that every RGB frame has the difference that leads into it
    dict(type='SampleFrames', clip_len=num_blocks * block_len + 1, frame_interval=1,
         num_clips=1),
    dict(type='MultiViewPipeline', views=dict(
        # here FrameDifference only drops the extra frame (after the crop: less to subtract)
        rgb=dict(transforms=[dict(type='RawFrameDecode'), *crops, dict(type='FrameDifference'),
                             dict(type='Flip', flip_ratio=0.5)]),
        diff=dict(transforms=[dict(type='RawFrameDecode'), *crops,
                              dict(type='FrameDifference')],
                  output_key='diff_imgs'))),
    dict(type='PackMultiViewInputs', view_names=('rgb', 'diff'), num_blocks=num_blocks),
]
train_dataloader = dict(
    dataset=dict(ann_file='train_action_rgb.txt', pipeline=train_pipeline))
