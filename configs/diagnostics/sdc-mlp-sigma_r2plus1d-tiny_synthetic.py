# Diagnostic: the tiny synthetic run with sigma (Eq. 3's transform before the cosine codes)
# an MLP with BatchNorm instead of the identity, so the codes see batch-centred features.
# At this scale it keeps the static half alive without L_loc, where the identity sigma's
# pooled ReLU features need L_loc to push them apart (docs/quickstart.md, "Fifth round").
#   python tools/quickstart.py --work-dir work_dirs/mlp-sigma --config THIS_FILE \
#       [--cfg-options custom_hooks.0.warmup_epochs=1000]   # L_loc off for the whole run
_base_ = ['../sdc_r2plus1d-tiny_synthetic.py']

# _delete_: the base sets projection=None, which a dict cannot be merged into
model = dict(align_head=dict(projection=dict(_delete_=True, with_norm=True)))
