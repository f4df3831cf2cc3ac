# CoCon with one ResNet18-2d3d encoder (+ ConvGRU + predictor) per view: RGB and optical flow.
model = dict(
    type='CoCon',
    views=dict(rgb=dict(in_channels=3), flow=dict(in_channels=2)),
    backbone=dict(type='ResNet2d3d', depth=18, base_channels=64),
    aggregator=dict(type='ConvGRU', hidden_size=256, kernel_size=1, num_layers=1, dropout=0.1),
    predictor=dict(type='DensePredictor'),
    num_blocks=8,
    num_pred_steps=3,
    cpc_temperature=0.07 ** 2,
    sync_weight=10.0,
    sim_weight=10.0,
    sim_positive_weight=0.5,
    global_negatives=True,  # losses over the batch of all GPUs, as the reference's
    data_preprocessor=dict(
        type='MultiViewDataPreprocessor',
        # RGB: ImageNet statistics; flow: JPEG 0..255 -> [-0.5, 0.5]
        mean=dict(rgb=[123.675, 116.28, 103.53], flow=[127.5, 127.5]),
        std=dict(rgb=[58.395, 57.12, 57.375], flow=[255.0, 255.0])))
