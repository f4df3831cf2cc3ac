# Linear probe of the tiny SDC model (configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py) on the
# generated dataset's action labels: frozen backbone, BatchNorm statistics included; only
# the linear classifier on the pooled feature learns. Data, backbone loading and options as
# in finetune_r2plus1d-tiny_synthetic.py. For tests and the quick start, not for results.
_base_ = ['./finetune_r2plus1d-tiny_synthetic.py']

model = dict(
    backbone=dict(frozen_stages=4, norm_eval=True),
    cls_head=dict(dropout_ratio=0.0))
optim_wrapper = dict(optimizer=dict(lr=0.1, weight_decay=0.0))
