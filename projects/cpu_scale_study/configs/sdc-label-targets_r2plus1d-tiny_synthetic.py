# Diagnostic (not SDC): the clip's dynamic codes learn from the true motion labels instead
# of the frame difference's codes, and the static alignment is off: can the backbone learn
# the motion through the codes at all in a given schedule? (../README.md)
#   python tools/quickstart.py --config THIS_FILE --max-epochs 60
# L_loc is off with a warm-up longer than the run: custom_hooks.0.warmup_epochs=1000.
_base_ = ['../../../configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py']

custom_imports = dict(
    imports=['sdc_mmaction', 'projects.cpu_scale_study.cpu_scale_study'],
    allow_failed_imports=False)

model = dict(
    align_head=dict(type='LabelTargetAlignHead', label_half='dynamic', keep_other_half=False))
# the same videos, in the same order, labelled by their motion class (0 .. 3 < Kd = 8)
train_dataloader = dict(dataset=dict(ann_file='annotations/train_dynamic.txt'))
