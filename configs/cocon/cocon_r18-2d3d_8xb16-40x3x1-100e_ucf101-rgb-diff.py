# CoCon on UCF-101 with the frame difference instead of optical flow as the second view:
# the same recipe and crops, one frame more per clip, no flow needed (only the RGB frames
# of tools/extract_flow.py and its *_rgb.txt list). Pairs with the RGB + flow config to ask
# what the flow buys over the difference.
#   bash tools/dist_train.sh configs/cocon/cocon_r18-2d3d_8xb16-40x3x1-100e_ucf101-rgb-diff.py 8
_base_ = ['./cocon_r18-2d3d_8xb16-40x3x1-100e_ucf101-rgb-flow.py']

num_blocks = 8
block_len = 5
frame_interval = 3
img_size = 128

model = dict(
    views=dict(_delete_=True, rgb=dict(in_channels=3), diff=dict(in_channels=3)),
    data_preprocessor=dict(
        mean=dict(_delete_=True, rgb=[123.675, 116.28, 103.53], diff=[0.0, 0.0, 0.0]),
        std=dict(_delete_=True, rgb=[58.395, 57.12, 57.375], diff=[58.395, 57.12, 57.375])))

crops = [
    dict(type='RandomCrop', size=224),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
]
train_pipeline = [
    dict(type='SampleFrames', clip_len=num_blocks * block_len + 1,
         frame_interval=frame_interval, num_clips=1),
    dict(type='MultiViewPipeline', views=dict(
        # here FrameDifference only drops the extra frame (after the crop: less to subtract)
        rgb=dict(transforms=[
            dict(type='RawFrameDecode'), *crops, dict(type='FrameDifference'),
            dict(type='Flip', flip_ratio=0.5),
            dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25)]),
        diff=dict(transforms=[dict(type='RawFrameDecode'), *crops,
                              dict(type='FrameDifference')],
                  output_key='diff_imgs'))),
    dict(type='PackMultiViewInputs', view_names=('rgb', 'diff'), num_blocks=num_blocks),
]
train_dataloader = dict(dataset=dict(
    ann_file='data/ucf101/rawframes/ucf101_train_split_1_videos_rgb.txt',
    pipeline=train_pipeline))
