# CoCon pretraining on Kinetics-400, RGB + TV-L1 flow, 8 blocks of 5 frames at 128 x 128:
# the UCF-101 recipe with K400's crops (random resized, area 0.5-1) and 50 epochs.
#   python tools/extract_flow.py data/kinetics400/videos_train data/kinetics400/rawframes_train \
#       --video-list data/kinetics400/kinetics400_train_list_videos.txt --short-side 128
#   bash tools/dist_train.sh configs/cocon/cocon_r18-2d3d_8xb16-40x3x1-50e_k400-rgb-flow.py 8
_base_ = ['./cocon_r18-2d3d_8xb16-40x3x1-100e_ucf101-rgb-flow.py']

num_blocks = 8
block_len = 5
frame_interval = 3
img_size = 128
max_epochs = 50

rgb_view = [
    dict(type='RawFrameDecode'),
    dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25),
]
flow_view = [
    dict(type='RawFrameDecode'),
    dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
]
train_pipeline = [
    dict(type='SampleFrames', clip_len=num_blocks * block_len, frame_interval=frame_interval,
         num_clips=1),
    dict(type='MultiViewPipeline', views=dict(
        rgb=dict(transforms=rgb_view),
        flow=dict(modality='Flow', filename_tmpl='flow_{}_{:05d}.jpg', transforms=flow_view))),
    dict(type='PackMultiViewInputs', view_names=('rgb', 'flow'), num_blocks=num_blocks),
]
train_dataloader = dict(
    dataset=dict(
        ann_file='data/kinetics400/rawframes_train/kinetics400_train_list_videos_flow.txt',
        data_prefix=dict(img='data/kinetics400/rawframes_train'),
        pipeline=train_pipeline))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
