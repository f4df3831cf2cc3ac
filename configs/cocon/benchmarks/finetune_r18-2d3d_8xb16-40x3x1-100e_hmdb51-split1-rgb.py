# Fine-tuning CoCon's RGB encoder on HMDB-51 split 1: the UCF-101 protocol with HMDB-51's
# frames (tools/extract_flow.py on MMAction2's HMDB-51 video lists) and 51 classes.
_base_ = ['./finetune_r18-2d3d_8xb16-40x3x1-100e_ucf101-split1-rgb.py']

data_root = 'data/hmdb51/rawframes'
model = dict(cls_head=dict(num_classes=51))
train_dataloader = dict(dataset=dict(
    data_prefix=dict(img=data_root),
    ann_file=f'{data_root}/hmdb51_train_split_1_videos_rgb.txt'))
val_dataloader = dict(dataset=dict(
    data_prefix=dict(img=data_root),
    ann_file=f'{data_root}/hmdb51_val_split_1_videos_rgb.txt'))
test_dataloader = dict(dataset=dict(
    data_prefix=dict(img=data_root),
    ann_file=f'{data_root}/hmdb51_val_split_1_videos_rgb.txt'))
