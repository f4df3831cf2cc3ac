# SDC pre-training of R(2+1)D-18 on UCF-101 split 1 (Sec. 4.2): the Kinetics-400 recipe
# (sdc_r2plus1d-r18_8xb8-16x1x1-100e_kinetics400-rgb.py) with 200 epochs on UCF-101's training videos.
_base_ = ['./sdc_r2plus1d-r18_8xb8-16x1x1-100e_kinetics400-rgb.py']

max_epochs = 200
data_root = 'data/ucf101/videos'
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'

train_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        skip_bad_videos=False))  # UCF-101 is small and clean: a bad file is an error
# tools/test.py: leave-one-out retrieval over split 1's test videos (see the K400 config)
test_dataloader = dict(
    dataset=dict(
        ann_file='data/ucf101/ucf101_val_split_1_videos.txt',
        data_prefix=dict(video=data_root)))

train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
