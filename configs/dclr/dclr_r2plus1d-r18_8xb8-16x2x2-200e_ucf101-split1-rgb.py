# DCLR pre-training of R(2+1)D-18 on UCF-101 split 1: the Kinetics-400 recipe with a
# queue of 2048.
#   bash tools/dist_train.sh configs/dclr/dclr_r2plus1d-r18_8xb8-16x2x2-200e_ucf101-split1-rgb.py 8
_base_ = ['./dclr_r2plus1d-r18_8xb8-16x2x2-200e_kinetics400-rgb.py']

data_root = 'data/ucf101/videos'
model = dict(queue_length=2048)
train_dataloader = dict(
    dataset=dict(
        ann_file='data/ucf101/ucf101_train_split_1_videos.txt',
        data_prefix=dict(video=data_root),
        skip_bad_videos=False))  # small and clean: a bad file is an error
test_dataloader = dict(
    dataset=dict(
        ann_file='data/ucf101/ucf101_val_split_1_videos.txt',
        data_prefix=dict(video=data_root)))
