# CoCon with RGB + frame difference in the method comparison (tools/compare_methods.py):
# the tiny run of cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-diff.py brought to the
# budget of the SDC quick start (configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py):
# clips of 8 frames taken every second frame (4 blocks of 2, the last 2 predicted), 64 x 64
# crops, AdamW with a cosine schedule and the same scale for the frame difference. It reads
# the generated videos themselves (no rawframes): both views come from the RGB frames.
#   python tools/generate_dataset.py data/synthetic
#   python tools/train.py configs/cocon/cocon_r18-2d3d-tiny_1xb4-8x2x1-8e_synthetic-rgb-diff.py
_base_ = ['./cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-diff.py']

num_blocks = 4
block_len = 2
frame_interval = 2
img_size = 64
max_epochs = 8

model = dict(
    num_blocks=num_blocks,
    data_preprocessor=dict(std=dict(diff=[8.0, 8.0, 8.0])))

crops = [
    dict(type='RandomResizedCrop', area_range=(0.3, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
]
train_pipeline = [
    dict(type='CheckedDecordInit'),
    # one frame more, so that every RGB frame has the difference that leads into it
    dict(type='SampleFrames', clip_len=num_blocks * block_len + 1,
         frame_interval=frame_interval, num_clips=1),
    dict(type='CheckedDecordDecode'),
    dict(type='MultiViewPipeline', views=dict(
        rgb=dict(transforms=[*crops, dict(type='FrameDifference'),
                             dict(type='Flip', flip_ratio=0.5)]),
        diff=dict(transforms=[*crops, dict(type='FrameDifference')],
                  output_key='diff_imgs'))),
    dict(type='PackMultiViewInputs', view_names=('rgb', 'diff'), num_blocks=num_blocks),
]
train_dataloader = dict(
    drop_last=True,
    dataset=dict(
        _delete_=True,
        type='SafeVideoDataset',
        data_root='data/synthetic',
        ann_file='annotations/train_action.txt',
        data_prefix=dict(video='videos'),
        pipeline=train_pipeline))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=1e-5))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
