# End-to-end fine-tuning of an SDC-pretrained S3D, 32 x 128 x 128, on Diving-48 (V2 labels).
# MMAction2's tools/data/diving48 writes these lists from the V2 annotations
# (Diving48_V2_train.json / Diving48_V2_test.json).
_base_ = ['./_base_/s3d_32x128.py']

data_root = 'data/diving48/videos'
ann_file_train = 'data/diving48/diving48_train_list_videos.txt'
ann_file_val = 'data/diving48/diving48_val_list_videos.txt'
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))

model = dict(cls_head=dict(num_classes=48))
