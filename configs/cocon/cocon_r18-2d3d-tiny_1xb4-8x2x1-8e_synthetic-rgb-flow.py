# CoCon with RGB + optical flow in the method comparison (tools/compare_methods.py): the
# tiny run of cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-flow.py brought to the budget
# of the SDC quick start (configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py):
# clips of 8 frames taken every second frame (4 blocks of 2, the last 2 predicted), 64 x 64
# crops, AdamW with a cosine schedule. It reads the rawframes and flow that
# tools/compare_methods.py writes under the dataset (Farneback), or, by hand:
#   python tools/generate_dataset.py data/synthetic
#   python tools/extract_flow.py data/synthetic/videos data/synthetic/rawframes \
#       --video-list data/synthetic/annotations/train_action.txt --method farneback
#   python tools/train.py configs/cocon/cocon_r18-2d3d-tiny_1xb4-8x2x1-8e_synthetic-rgb-flow.py
_base_ = ['./cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-flow.py']

num_blocks = 4
block_len = 2
frame_interval = 2
img_size = 64
max_epochs = 8

model = dict(num_blocks=num_blocks)

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
        # no Flip: MMAction2's Flip is not a flip of flow frames (see the base config)
        flow=dict(modality='Flow', filename_tmpl='flow_{}_{:05d}.jpg',
                  transforms=[dict(type='RawFrameDecode'), *crops]))),
    dict(type='PackMultiViewInputs', view_names=('rgb', 'flow'), num_blocks=num_blocks),
]
# data_root is the generated dataset; the flow list counts the frames that have flow
train_dataloader = dict(
    drop_last=True,
    dataset=dict(
        data_root='data/synthetic',
        ann_file='rawframes/train_action_flow.txt',
        data_prefix=dict(img='rawframes'),
        pipeline=train_pipeline))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=1e-5))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
