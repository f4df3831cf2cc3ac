# Not the paper: the target-network run of sdc-target-network_r2plus1d-tiny_synthetic.py
# with two more changes to the clip's dynamic codes q_v^d (docs/quickstart.md, "Twelfth
# round" and "Thirteenth round"):
# - L_fid's gradient kept off q_v^d, so the reconstruction of v, which the scene dominates,
#   does not write the scene into them;
# - a regression of q_v^d onto the target network's codes of d (loss_code_reg, weight 3),
#   which trains the parts of q_v^d that Eq. 4's softmax does not see.
# Made for 120 epochs (2880 iterations of batch 8 on the quick start's data, about half an
# hour on 2 cores, evaluation included), longer than the quick start's 15 minutes:
#   python tools/quickstart.py --work-dir work_dirs/code-regression --config THIS_FILE \
#       --max-epochs 120
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
