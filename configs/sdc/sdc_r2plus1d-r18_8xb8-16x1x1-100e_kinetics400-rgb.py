# SDC pre-training of R(2+1)D-18 on Kinetics-400 (Sec. 4.2): 16 x 112 x 112 clips,
# 100 epochs, SGD lr 1e-2, weight decay 1e-4, Ks = Kd = 50, K = 5, alpha = beta = 1,
# gamma = 0.01, no local concept contrast for the first 5 epochs.
#   8 GPUs:  bash tools/dist_train.sh configs/sdc_r2plus1d_k400.py 8
#   1 GPU :  python tools/train.py configs/sdc_r2plus1d_k400.py --auto-scale-lr
_base_ = [
    '../_base_/models/sdc_r2plus1d_r18.py', '../_base_/schedules/sdc_sgd.py',
    '../_base_/default_runtime.py'
]

clip_len = 16  # T: frames of v, s and d (T + 1 are decoded for the differences)
img_size = 112
max_epochs = 100
warmup_epochs = 5  # epochs without L_loc (Sec. 3.3)

# dataset settings (MMAction2's Kinetics-400 layout, labels unused by the losses)
dataset_type = 'SafeVideoDataset'
data_root = 'data/kinetics400/videos_train'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'

# The paper uses spatio-temporal cropping only (no colour jitter). The static frame gets
# its own random crop (as in the authors' code); v and d share one crop. The paper does
# not state the frame interval: consecutive frames are our choice.
crops = [
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0)),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
]
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len + 1, frame_interval=1, num_clips=1),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='StaticFrame', clip_len=clip_len, crop_pipeline=crops),
    *crops,
    dict(type='FrameDifference'),
    dict(type='PackConceptInputs', view_names=('clip', 'static', 'diff')),
]
train_dataloader = dict(
    batch_size=8,  # per GPU, as MMAction2's R(2+1)D configs
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # equal per-GPU batches: the local contrast gathers negatives over all GPUs
    drop_last=True,
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline,
        skip_bad_videos=True))  # a Kinetics download always has some broken files

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]

custom_hooks = [
    dict(type='LocalLossWarmupHook', warmup_epochs=warmup_epochs),
    dict(type='ConceptQueueHook'),
    # stop on a NaN/Inf loss before it reaches the weights (action='skip' skips the step)
    dict(type='NonFiniteLossHook'),
]

# Evaluating a pretraining checkpoint (tools/test.py CONFIG CHECKPOINT): leave-one-out
# video retrieval over the validation list. Each video is described by the pooled clip
# feature v averaged over 10 uniformly spaced centre-cropped clips (the retrieval
# protocol's sampling); every video queries all the others, centred by their mean, and
# counts at R@k when one of its k nearest neighbours shares its class. This monitors a
# run; the paper's Table 2 (test videos query the training set) is tools/retrieval.py.
# The similarity matrix is num_videos^2 doubles (about 3 GB for Kinetics-400's ~20k).
ann_file_test = 'data/kinetics400/kinetics400_val_list_videos.txt'
data_root_test = 'data/kinetics400/videos_val'
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=10,
         test_mode=True),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='FormatShape', input_format='NCTHW'),
    # clip only: ConceptPretrainRecognizer's predict mode averages a video's clips
    dict(type='PackActionInputs'),
]
test_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        data_prefix=dict(video=data_root_test),
        pipeline=test_pipeline,
        test_mode=True))  # test mode: a bad video is an error, never skipped
test_evaluator = dict(type='VideoRetrievalMetric', topk=(1, 5, 10), feature_key='v')
test_cfg = dict(type='TestLoop')
# Validation during pre-training is off (a pass over the list every val_interval
# epochs). To monitor R@k while training, a derived config sets:
#   val_dataloader = _base_.test_dataloader
#   val_evaluator = _base_.test_evaluator
#   val_cfg = dict(type='ValLoop')

# The paper does not state its batch size; the base is MMAction2's 8 GPUs x 8 clips, and
# --auto-scale-lr rescales lr 1e-2 linearly for other total batch sizes.
auto_scale_lr = dict(enable=False, base_batch_size=64)
