# Not the paper: the tiny synthetic run with the frame difference's Sinkhorn targets taken
# from a moving-average copy of the backbone (the recognizer's target_momentum), the one
# change after which the dynamic half learned from random weights on this CPU
# (docs/quickstart.md, "Sixth round" and "Seventh round"). With it, as in those runs:
# - a faster backbone: one block per stage at 16 base channels (a 128-channel feature),
#   which a plain classifier teaches the motion in about 200 iterations where the tiny
#   config's needs more than 400;
# - sigma the MLP with BatchNorm, which keeps the static half alive without L_loc;
# - the static half of Eq. 4 weighted 0.1, so the scene, learnt far sooner, does not pull
#   the shared backbone away from the motion while the dynamic half starts;
# - L_loc held at weight 0 for the whole run (the warm-up hook), and no score queue.
#   python tools/quickstart.py --work-dir work_dirs/target-network --config THIS_FILE
_base_ = ['../sdc_r2plus1d-tiny_synthetic.py']

channels = 128  # 16 * 2 ** 3

model = dict(
    target_momentum=0.001,  # OpenMMLab's convention: the target keeps 99.9 % per step
    target_views=('diff', ),
    backbone=dict(stage_blocks=(1, 1, 1, 1), base_channels=16),
    align_head=dict(
        in_channels=channels,
        fidelity_hidden_channels=channels,
        # _delete_: the base sets projection=None, which a dict cannot be merged into
        projection=dict(_delete_=True, with_norm=True),
        static_half_weight=0.1,
        queue_length=0),
    local_head=dict(in_channels=channels))

custom_hooks = [
    # L_loc stays at weight 0 (the head stays in the graph, so DDP needs no
    # find_unused_parameters, and F_v is still computed for the analyses)
    dict(type='LocalLossWarmupHook', warmup_epochs=1000),
    dict(type='ConceptQueueHook'),
    dict(type='NonFiniteLossHook'),
]
