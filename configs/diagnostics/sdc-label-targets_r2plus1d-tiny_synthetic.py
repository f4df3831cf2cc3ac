# Diagnostic, not SDC: the tiny synthetic run with the clip's dynamic codes trained on the
# true motion labels (one-hot over the first dynamic concepts) instead of the frame
# difference's Sinkhorn codes, and the static alignment off. It asks whether the backbone
# learns the motion through the concept codes at all in a given schedule, and which of the
# other terms stop it (docs/quickstart.md, "Label targets"). With the quick start's
# evaluation:
#   python tools/quickstart.py --work-dir work_dirs/label-targets --config THIS_FILE \
#       --max-epochs 60 [--cfg-options model.align_head.fidelity_weight=0 ...]
# L_loc is turned off by a warm-up longer than the run: custom_hooks.0.warmup_epochs=1000.
_base_ = ['../sdc_r2plus1d-tiny_synthetic.py']

model = dict(
    align_head=dict(type='LabelTargetAlignHead', label_half='dynamic', keep_other_half=False))
# the same videos, in the same order, labelled by their motion class (0 .. 3 < Kd = 8)
train_dataloader = dict(dataset=dict(ann_file='annotations/train_dynamic.txt'))
