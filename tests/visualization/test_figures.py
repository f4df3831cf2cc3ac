"""The quick start's concept attention picture: drawn over a feature map with enough
locations, from the maps of the clip's most active static and dynamic concept."""
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmaction.registry import MODELS
from sdc_mmaction.apis.quickstart import PRETRAIN_CONFIG
from sdc_mmaction.visualization.figures import (MIN_ATTENTION_LOCATIONS, attention_figure,
                                                attention_maps)


def test_attention_maps_and_figure_over_a_3x3_map(tmp_path):
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(PRETRAIN_CONFIG).model).eval()
    clips = torch.randn(2, 3, 8, 96, 96)  # 96 px: a 3 x 3 map after the stride of 32
    maps = attention_maps(model, clips)
    _, height, width = maps['feature_map_size']
    assert (height, width) == (3, 3) and height * width >= MIN_ATTENTION_LOCATIONS
    for name in ('static', 'dynamic'):
        assert maps[name].shape == (2, 8, 96, 96)
        assert float(maps[name].min()) >= 0.0 and float(maps[name].max()) <= 1.0
        # scaled per clip: every clip's map spans [0, 1]
        assert torch.allclose(maps[name].flatten(1).max(1)[0], torch.ones(2))
    assert int(maps['static_index'].max()) < model.num_static_concepts
    assert int(maps['dynamic_index'].max()) < model.num_dynamic_concepts
    frames = np.random.default_rng(0).integers(0, 255, (2, 8, 96, 96, 3), dtype=np.uint8)
    out = attention_figure(frames, maps, ['a', 'b'], str(tmp_path / 'attention.png'))
    with open(out, 'rb') as handle:
        assert handle.read(8) == b'\x89PNG\r\n\x1a\n'
