# A CPU-sized CoCon run on the generated dataset (tools/generate_dataset.py), RGB + TV-L1
# flow: ResNet18-2d3d with 8 base channels (32-channel features), 4 blocks of 3 frames (2
# context, 2 predicted), 64 x 64 crops (2 x 2 feature maps), batch 4. For tests, smoke runs
# and method comparisons on the generated data, not for results.
#   python tools/generate_dataset.py data/synthetic
#   python tools/extract_flow.py data/synthetic/videos data/synthetic/rawframes \
#       --video-list data/synthetic/annotations/train_action.txt --workers 2
#   python tools/train.py configs/cocon/cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-flow.py
_base_ = ['./cocon_r18-2d3d_8xb16-40x3x1-100e_ucf101-rgb-flow.py']

num_blocks = 4
block_len = 3
frame_interval = 1
img_size = 64
max_epochs = 4
data_root = 'data/synthetic/rawframes'

model = dict(
    backbone=dict(base_channels=8),
    aggregator=dict(hidden_size=32),
    num_blocks=num_blocks,
    num_pred_steps=2)

crops = [
    dict(type='RandomResizedCrop', area_range=(0.3, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
]
train_pipeline = [
    dict(type='SampleFrames', clip_len=num_blocks * block_len, frame_interval=frame_interval,
         num_clips=1),
    dict(type='MultiViewPipeline', views=dict(
        rgb=dict(transforms=[dict(type='RawFrameDecode'), *crops,
                             dict(type='Flip', flip_ratio=0.5)]),
        flow=dict(modality='Flow', filename_tmpl='flow_{}_{:05d}.jpg',
                  transforms=[dict(type='RawFrameDecode'), *crops]))),
    dict(type='PackMultiViewInputs', view_names=('rgb', 'flow'), num_blocks=num_blocks),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='train_action_flow.txt',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
default_hooks = dict(logger=dict(interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)
log_processor = dict(window_size=1)
