# Diagnostic: the paper's tiny config with sigma (Eq. 3) an MLP with BatchNorm instead of
# the identity; at this scale it keeps the static half alive without L_loc (../README.md).
#   python tools/quickstart.py --config THIS_FILE [--cfg-options custom_hooks.0.warmup_epochs=1000]
_base_ = ['../../../configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py']

# _delete_: the base sets projection=None, which a dict cannot be merged into
model = dict(align_head=dict(projection=dict(_delete_=True, with_norm=True)))
