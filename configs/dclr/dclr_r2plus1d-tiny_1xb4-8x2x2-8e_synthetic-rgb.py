# DCLR in the method comparison (tools/compare_methods.py): the tiny DCLR run of
# dclr_r2plus1d-tiny_1xb4-8x1x2-2e_synthetic-rgb.py brought to the budget of the SDC quick
# start (configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py): the same backbone,
# clips of 8 frames taken every second frame, 64 x 64 crops, AdamW with a cosine schedule
# and the same scale for the frame difference. DCLR keeps its own augmentations (colour,
# grey, blur) and two clips per video; the queue holds 8 batches of 8.
#   python tools/generate_dataset.py data/synthetic
#   python tools/train.py configs/dclr/dclr_r2plus1d-tiny_1xb4-8x2x2-8e_synthetic-rgb.py
_base_ = ['./dclr_r2plus1d-tiny_1xb4-8x1x2-2e_synthetic-rgb.py']

clip_len = 8
frame_interval = 2
max_epochs = 8

model = dict(queue_length=64, data_preprocessor=dict(diff_std=8.0))

# two 17-frame spans fit in the 24-frame videos of the quick start's data
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len + 1, frame_interval=frame_interval,
         num_clips=2),
    dict(type='CheckedDecordDecode'),
    # the base config's views of each clip (crops, colour, grey, blur, s and d)
    dict(type='ClipWiseTransforms', transforms={{_base_.per_clip}},
         shared_keys=('static_frame_position', )),
    dict(type='PackConceptInputs',
         view_names=('clip', 'static', 'diff', 'clip2', 'static2', 'diff2')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=1e-5))
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
