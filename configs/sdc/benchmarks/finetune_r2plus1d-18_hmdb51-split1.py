# End-to-end fine-tuning of an SDC-pretrained R(2+1)D-18, 16 x 112 x 112, on HMDB-51 split 1.
_base_ = ['./_base_/r2plus1d-18_16x112.py']

data_root = 'data/hmdb51/videos'
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
ann_file_val = 'data/hmdb51/hmdb51_val_split_1_videos.txt'
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))

model = dict(cls_head=dict(num_classes=51))
