# Fine-tuning the tiny SDC model of configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py on the generated
# dataset's action labels (scene x motion, 16 classes with the generator's defaults). For
# tests and the quick start, not for results.
#   python tools/convert_pretrained.py work_dirs/sdc_r2plus1d-tiny_synthetic/epoch_8.pth \
#       work_dirs/sdc_r2plus1d-tiny_synthetic/backbone.pth
#   python tools/train.py configs/sdc/benchmarks/finetune_r2plus1d-tiny_synthetic.py
# Another dataset folder: --cfg-options train_dataloader.dataset.data_root=PATH
#   val_dataloader.dataset.data_root=PATH test_dataloader.dataset.data_root=PATH
# (and model.cls_head.num_classes=N for other class counts).
_base_ = ['./_base_/r2plus1d-18_16x112.py']

# the backbone of the tiny pretraining config: 8 base channels, 64-channel output
model = dict(
    backbone=dict(base_channels=8, norm_cfg=dict(type='BN3d', requires_grad=True, eps=1e-3)),
    cls_head=dict(in_channels=64, num_classes=16))

data_root = 'data/synthetic'
clip_len = 8
frame_interval = 2
img_size = 64
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1),
    dict(type='CheckedDecordDecode'),
    dict(type='RandomResizedCrop', area_range=(0.3, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1, test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, img_size)),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=2, test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, img_size)),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/train_action.txt',
        data_prefix=dict(video='videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/val_action.txt',
        data_prefix=dict(video='videos'),
        pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/val_action.txt',
        data_prefix=dict(video='videos'),
        pipeline=test_pipeline))

max_epochs = 5
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=8)

load_from = 'work_dirs/sdc_r2plus1d-tiny_synthetic/backbone.pth'
