# Linear probe of an SDC-pretrained S3D, 32 x 128 x 128, on Diving-48 (V2 labels).
# MMAction2's tools/data/diving48 writes these lists from the V2 annotations
# (Diving48_V2_train.json / Diving48_V2_test.json).
_base_ = ['./finetune_s3d_diving48-v2.py']  # same data, backbone and test settings

# Linear probe: every backbone stage frozen (parameters fixed and, on every
# model.train(), put back in eval mode so BatchNorm statistics stay fixed too);
# only the linear classifier on the pooled feature v learns.
model = dict(
    backbone=dict(frozen_stages=5, norm_eval=True),
    cls_head=dict(dropout_ratio=0.0))
max_epochs = 100
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.1, weight_decay=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         begin=0, end=max_epochs)
]
