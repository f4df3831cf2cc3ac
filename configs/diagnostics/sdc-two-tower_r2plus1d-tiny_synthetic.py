# Not the paper: the code-regression run (sdc-code-regression_r2plus1d-tiny_synthetic.py)
# with one backbone per half of Eq. 4 (TwoTowerConceptRecognizer): a static tower that
# sees the clip and the static frame and trains the static half only, and a dynamic
# tower that sees the clip and the frame difference and trains the dynamic half (with the
# target network and the code regression) only. With one shared backbone the static half
# learns the scene first and takes the backbone before the dynamic half starts, on some
# seeds and not on others (docs/quickstart.md, "Sixteenth round"); with a tower each,
# neither half waits for the other ("Seventeenth round"), so the static half trains at
# its full weight from the start, without StaticHalfWarmupHook.
#   python tools/quickstart.py --work-dir work_dirs/two-tower --config THIS_FILE
_base_ = ['./sdc-code-regression_r2plus1d-tiny_synthetic.py']

max_epochs = 70

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
