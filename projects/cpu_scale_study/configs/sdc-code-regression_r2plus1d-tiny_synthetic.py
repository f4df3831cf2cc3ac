# Study variant (not the paper): the target-network config plus L_fid kept off q_v^d and a
# regression of q_v^d onto the target network's codes of d (weight 3). Why: ../README.md.
#   python tools/quickstart.py --config THIS_FILE --max-epochs 120
_base_ = ['./sdc-target-network_r2plus1d-tiny_synthetic.py']

max_epochs = 120

model = dict(
    align_head=dict(
        fidelity_through_dynamic_clip_codes=False,
        dynamic_code_regression_weight=3.0))

train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         convert_to_iter_based=True)
]
