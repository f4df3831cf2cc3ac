# DCLR with an R(2+1)D-18 backbone. The authors' `r2plus1d_18` has one block per stage
# (an R(2+1)D-10); MMAction2's depth-18 layout (two per stage) is what the name says.
model = dict(
    type='DCLR',
    backbone=dict(
        type='ResNet2Plus1d',
        depth=18,
        pretrained=None,
        pretrained2d=False,
        norm_eval=False,
        conv_cfg=dict(type='Conv2plus1d'),
        # SyncBN instead of the authors' shuffle-BN: see configs/dclr/README.md
        norm_cfg=dict(type='SyncBN', requires_grad=True, eps=1e-3),
        act_cfg=dict(type='ReLU'),
        conv1_kernel=(3, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        inflate=(1, 1, 1, 1),
        spatial_strides=(1, 2, 2, 2),
        temporal_strides=(1, 2, 2, 2),
        zero_init_residual=False),
    head=dict(type='DCLRProjectionHead', in_channels=512, hidden_channels=512,
              out_channels=128, init_std=0.01),
    queue_length=16384,
    momentum=0.001,  # MoCo's m = 0.999
    temperature=0.07,
    top_k=5,
    activation_weight=0.1,
    detach_activation_parts=False,
    # maps divided by their means: the raw term was ~1600x the contrastive ones at this width
    normalise_activation_alignment=True,
    data_preprocessor=dict(
        type='ConceptDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]))
