# Fine-tuning CoCon's RGB encoder on UCF-101 split 1 (README.md: protocol and sources):
# ResNet18-2d3d + ConvGRU over 8 blocks of 5 frames + BN + dropout 0.5 + FC, 128 x 128.
#   python tools/convert_pretrained.py work_dirs/<cocon run>/epoch_100.pth cocon_rgb.pth \
#       --view rgb --check-config THIS_CONFIG
#   bash tools/dist_train.sh THIS_CONFIG 8 --cfg-options load_from=cocon_rgb.pth
# Frames: tools/extract_flow.py on the train and val lists (its *_rgb.txt lists).
_base_ = ['../../_base_/default_runtime.py']

num_blocks = 8
block_len = 5
frame_interval = 3
img_size = 128
max_epochs = 100
data_root = 'data/ucf101/rawframes'

model = dict(
    type='Recognizer3D',
    backbone=dict(type='ResNet2d3d', depth=18, in_channels=3),
    cls_head=dict(type='BlockGRUHead', num_classes=101, in_channels=256, num_blocks=num_blocks,
                  dropout_ratio=0.5, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCTHW'))

train_pipeline = [
    dict(type='SampleFrames', clip_len=num_blocks * block_len, frame_interval=frame_interval,
         num_clips=1),
    dict(type='RawFrameDecode'),
    dict(type='RandomCrop', size=224),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='SplitBlocks', num_blocks=num_blocks),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='SampleFrames', clip_len=num_blocks * block_len, frame_interval=frame_interval,
         num_clips=1, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='SplitBlocks', num_blocks=num_blocks),
    dict(type='PackActionInputs'),
]
# softmax averaged over clips spread over the whole video
test_pipeline = [
    dict(type='SampleFrames', clip_len=num_blocks * block_len, frame_interval=frame_interval,
         num_clips=10, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='SplitBlocks', num_blocks=num_blocks),
    dict(type='PackActionInputs'),
]
dataset = dict(type='RawframeDataset', data_prefix=dict(img=data_root),
               filename_tmpl='img_{:05d}.jpg')
train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, ann_file=f'{data_root}/ucf101_train_split_1_videos_rgb.txt',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, ann_file=f'{data_root}/ucf101_val_split_1_videos_rgb.txt',
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=1, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, ann_file=f'{data_root}/ucf101_val_split_1_videos_rgb.txt',
                 pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[50, 70, 90], gamma=0.1)]
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3, save_best='auto'))
auto_scale_lr = dict(enable=False, base_batch_size=128)
