# Linear probe of an SDC-pretrained R(2+1)D-18, 16 x 112 x 112, on UCF-101 split 1.
_base_ = ['./finetune_r2plus1d-18_ucf101-split1.py']  # same data, backbone and test settings

# Linear probe: every backbone stage frozen (parameters fixed and, on every
# model.train(), put back in eval mode so BatchNorm statistics stay fixed too);
# only the linear classifier on the pooled feature v learns.
model = dict(
    backbone=dict(frozen_stages=4, norm_eval=True),
    cls_head=dict(dropout_ratio=0.0))
max_epochs = 100
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.1, weight_decay=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         begin=0, end=max_epochs)
]
