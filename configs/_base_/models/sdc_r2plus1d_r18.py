# SDC model with an R(2+1)D-18 backbone (Sec. 4.2) and the paper's loss settings:
# Ks = Kd = 50 concepts, K = 5 valid local concepts, alpha = beta = 1, gamma = 0.01 (Eq. 11).
#
# MMAction2's ResNet2Plus1d at depth 18 keeps the (2+1)D mid-channel rule of Tran et al.,
# which matches the parameter count of a 3D ResNet-18 (about 33 M); the paper reports
# 14.4 M parameters for its R(2+1)D-18, so it used a narrower variant that MMAction2 does
# not have. The layout (stride-1 temporal stem, temporal strides 2 in stages 2-4) gives a
# (N, 512, T/8, H/32, W/32) feature map: 2 x 4 x 4 for 16 x 112 x 112 clips.
num_static_concepts = 50  # Ks
num_dynamic_concepts = 50  # Kd
model = dict(
    type='ConceptPretrainRecognizer',
    view_names=('clip', 'static', 'diff'),
    shared_backbone=True,  # Sec. 4.2: one backbone for v, s and d
    # One pass over the three views concatenated along the batch: BatchNorm statistics
    # cover all views together, as the running statistics used later do.
    stack_views=True,
    backbone=dict(
        type='ResNet2Plus1d',
        depth=18,
        pretrained=None,
        pretrained2d=False,
        norm_eval=False,
        conv_cfg=dict(type='Conv2plus1d'),
        norm_cfg=dict(type='SyncBN', requires_grad=True, eps=1e-3),
        act_cfg=dict(type='ReLU'),
        conv1_kernel=(3, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        inflate=(1, 1, 1, 1),
        spatial_strides=(1, 2, 2, 2),
        temporal_strides=(1, 2, 2, 2),
        zero_init_residual=False),
    align_head=dict(
        type='ConceptAlignHead',
        in_channels=512,
        num_static_concepts=num_static_concepts,
        num_dynamic_concepts=num_dynamic_concepts,
        projection=None,  # sigma = identity (Sec. 3.1 default)
        temperature=0.1,  # SwAV's tau, epsilon and iterations (the paper gives none)
        sinkhorn_epsilon=0.05,
        sinkhorn_iterations=3,
        alignment_weight=1.0,
        fidelity_weight=1.0,  # beta
        diversity_weight=0.01,  # gamma
        # Sinkhorn over one GPU's 8 samples and 50 concepts is degenerate: keep the codes
        # of the last 128 samples per GPU (1024 rows over 8 GPUs; the authors' code kept
        # 1024 past score vectors) from the second epoch (0-based epoch 1) on.
        queue_length=128,
        queue_start_epoch=1),
    local_head=dict(
        type='LocalConceptContrastHead',
        in_channels=512,
        num_static_concepts=num_static_concepts,
        num_dynamic_concepts=num_dynamic_concepts,
        top_k=5,  # K: 10 % of the concepts (Sec. 4.2)
        margin=1.4,  # lambda; not given in the paper, the authors' code used 1.4
        normalize_features=True,
        loss_weight=1.0),  # alpha; LocalLossWarmupHook holds it at 0 during warm-up
    data_preprocessor=dict(
        type='ConceptDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]))
