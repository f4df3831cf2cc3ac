"""The comparison's features of the baselines' own views: CoCon's per-view encoders on
views derived from the shared extractor's RGB clips."""
import torch
from mmengine.registry import init_default_scope

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import MODELS
from sdc_mmaction.apis.method_features import ViewEncoderFeatures


def test_view_encoder_features_match_cocon_on_its_own_views():
    """The RGB encoder's v on a clip, and the difference encoder's d on the differences
    derived from the RGB-normalised clip, equal the encoders on the views that CoCon's
    data preprocessor normalises from raw frames and raw differences."""

    init_default_scope('mmaction')
    torch.manual_seed(0)
    rgb_mean, rgb_std, diff_std = [120.0, 110.0, 100.0], [60.0, 50.0, 40.0], [8.0, 4.0, 2.0]
    cocon = MODELS.build(dict(
        type='CoCon', views=dict(rgb=dict(in_channels=3), diff=dict(in_channels=3)),
        backbone=dict(type='ResNet2d3d', depth=10, base_channels=4),
        aggregator=dict(type='ConvGRU', hidden_size=8), predictor=dict(type='DensePredictor'),
        num_blocks=2, num_pred_steps=1,
        data_preprocessor=dict(type='MultiViewDataPreprocessor',
                               mean=dict(rgb=rgb_mean, diff=[0.0] * 3),
                               std=dict(rgb=rgb_std, diff=diff_std))))
    cocon.init_weights()
    cocon.eval()
    model = ViewEncoderFeatures(cocon).eval()
    frames = torch.rand(2, 3, 5, 32, 32) * 255  # (M, C, T, H, W), raw
    clips = model.data_preprocessor(dict(inputs=[frames], data_samples=None))['inputs'][0]
    # one sample of two clips each
    raw_views = dict(rgb=[frames[:, :, 1:]], diff=[frames[:, :, 1:] - frames[:, :, :-1]])
    views = cocon.data_preprocessor(dict(inputs=raw_views, data_samples=None))['inputs']
    with torch.no_grad():
        out = model.features(clips, derive_views=True)
        expected_d = cocon.encoders['diff']['backbone'](views['diff'][0]).mean(dim=(2, 3, 4))
        expected_v = cocon.encoders['rgb']['backbone'](clips).mean(dim=(2, 3, 4))
        rgb_of_view = cocon.encoders['rgb']['backbone'](views['rgb'][0]).mean(dim=(2, 3, 4))
    torch.testing.assert_close(out['d'], expected_d, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out['v'], expected_v)
    # the same RGB normalisation as CoCon's rgb view
    torch.testing.assert_close(model.features(clips[:, :, 1:])['v'], rgb_of_view,
                               rtol=1e-4, atol=1e-5)
    assert sorted(model.features(clips)) == ['v']
