# CoCon pretraining on UCF-101 split 1, RGB + TV-L1 flow, 8 blocks of 5 frames at 128 x 128
# (README.md: recipe and differences from the reference code).
#   python tools/extract_flow.py data/ucf101/videos data/ucf101/rawframes \
#       --video-list data/ucf101/ucf101_train_split_1_videos.txt --short-side 240
#   bash tools/dist_train.sh configs/cocon/cocon_r18-2d3d_8xb16-40x3x1-100e_ucf101-rgb-flow.py 8
_base_ = ['../_base_/models/cocon_r18-2d3d.py', '../_base_/default_runtime.py']

num_blocks = 8
block_len = 5
frame_interval = 3
img_size = 128
max_epochs = 100
data_root = 'data/ucf101/rawframes'
# lists written by tools/extract_flow.py; the flow list counts the frames that have flow
ann_file_train = 'data/ucf101/rawframes/ucf101_train_split_1_videos_flow.txt'

rgb_view = [
    dict(type='RawFrameDecode'),
    dict(type='RandomCrop', size=224),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25),
]
# No Flip for flow: MMAction2's Flip inverts every second frame of a 'Flow' clip (its
# layout of interleaved x / y frames), not the x channel of RawFrameDecode's (H, W, 2).
flow_view = [
    dict(type='RawFrameDecode'),
    dict(type='MotionCrop', size=224, num_candidates=3),  # the most moving of 3 crops
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
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,  # L_sync / L_sim need at least two clips, and equal batches
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='RawframeDataset',
        ann_file=ann_file_train,
        data_prefix=dict(img=data_root),
        filename_tmpl='img_{:05d}.jpg',
        pipeline=train_pipeline))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
val_cfg = None
val_dataloader = None
val_evaluator = None
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5))
param_scheduler = []  # constant LR (README: the reference lowers it on a validation plateau)
auto_scale_lr = dict(enable=False, base_batch_size=128)
