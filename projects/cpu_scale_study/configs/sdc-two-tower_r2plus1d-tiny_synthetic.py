# Study variant (not the paper): one backbone per half of Eq. 4 (TwoTowerConceptRecognizer)
# on top of the code-regression config. At CPU scale it learns both halves where the
# paper's objective learns the static one only (../README.md).
#   bash tools/quickstart.sh --config THIS_FILE --max-epochs 32
_base_ = ['./sdc-code-regression_r2plus1d-tiny_synthetic.py']

max_epochs = 32

model = dict(type='TwoTowerConceptRecognizer')

train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
custom_hooks = [
    # L_loc stays at weight 0 in both towers, as in the single-backbone runs
    dict(type='LocalLossWarmupHook', warmup_epochs=1000),
    dict(type='LocalLossWarmupHook', warmup_epochs=1000,
         head_name='dynamic_tower.local_head'),
    dict(type='NonFiniteLossHook'),
]
