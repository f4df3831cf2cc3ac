# Fine-tuning the RGB encoder of the tiny CoCon configs on the generated dataset's action
# labels (scene x motion, 16 classes with the generator's defaults; other counts:
# --cfg-options model.cls_head.num_classes=N), 4 blocks of 3 frames, 64 px: the protocol of
# the UCF-101 fine-tune config at CPU size. Frames: tools/extract_flow.py on the train and
# val lists (its *_rgb.txt lists).
#   python tools/extract_flow.py data/synthetic/videos data/synthetic/rawframes \
#       --video-list data/synthetic/annotations/val_action.txt
#   python tools/convert_pretrained.py work_dirs/<tiny cocon run>/epoch_4.pth cocon_rgb.pth \
#       --view rgb --check-config THIS_CONFIG
#   python tools/train.py THIS_CONFIG --cfg-options load_from=cocon_rgb.pth
#   python tools/test.py THIS_CONFIG work_dirs/<this run>/epoch_10.pth
_base_ = ['./finetune_r18-2d3d_8xb16-40x3x1-100e_ucf101-split1-rgb.py']

num_blocks = 4
block_len = 3
img_size = 64
max_epochs = 10
data_root = 'data/synthetic/rawframes'

model = dict(
    backbone=dict(base_channels=8),
    cls_head=dict(num_classes=16, in_channels=32, num_blocks=num_blocks))

train_pipeline = [
    dict(type='SampleFrames', clip_len=num_blocks * block_len, frame_interval=1, num_clips=1),
    dict(type='RawFrameDecode'),
    dict(type='RandomResizedCrop', area_range=(0.3, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='SplitBlocks', num_blocks=num_blocks),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='SampleFrames', clip_len=num_blocks * block_len, frame_interval=1, num_clips=2,
         test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='SplitBlocks', num_blocks=num_blocks),
    dict(type='PackActionInputs'),
]
dataset = dict(type='RawframeDataset', data_root=data_root, data_prefix=dict(img=''),
               filename_tmpl='img_{:05d}.jpg')
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(dataset, _delete_=True, ann_file='train_action_rgb.txt',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(dataset, _delete_=True, ann_file='val_action_rgb.txt',
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(dataset, _delete_=True, ann_file='val_action_rgb.txt',
                 pipeline=test_pipeline, test_mode=True))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[7], gamma=0.1)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, save_best=None))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)
log_processor = dict(window_size=1)
