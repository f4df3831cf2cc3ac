"""tools/benchmark.py with a CoCon config: both steps timed in one run, flow beside them."""
import os.path as osp

import pytest
from mmengine.config import Config

from sdc_mmaction.apis.benchmark_cocon import (format_cocon_report, run_cocon_benchmark,
                                               stock_block_model_cfg)

CONFIG = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                  'cocon', 'cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-flow.py')


def test_stock_model_shares_the_rgb_backbone():
    cfg = Config.fromfile(CONFIG)
    stock = stock_block_model_cfg(cfg.model.to_dict())
    assert stock['backbone']['type'] == 'ResNet2d3d'
    assert stock['backbone']['in_channels'] == 3
    assert stock['backbone']['base_channels'] == 8
    assert stock['cls_head']['num_blocks'] == 4 and stock['cls_head']['in_channels'] == 32


def test_benchmark_runs_both_steps_and_flow(generated_dataset):
    cfg = Config.fromfile(CONFIG)
    result = run_cocon_benchmark(
        cfg, batch_size=2, iters=1, warmup=0, block_shape=(3, 32, 32),
        flow_video_dir=osp.join(generated_dataset, 'videos', 'scenes', 'val'),
        flow_frames=3, flow_methods=('farneback', ))
    assert result['cocon']['parameters'] > 1.5 * result['stock']['parameters']
    assert result['ratio_median'] > 0
    assert set(result['cocon']['final_losses']) >= {'loss_cpc_rgb', 'loss_sim_rgb_flow'}
    flow = result['flow']['methods']['farneback']
    assert flow['videos'] == 4 and flow['flow_frames'] == 8  # 2 flows from 3 frames each
    assert flow['flow_fps_per_core'] > flow['end_to_end_fps_per_core'] > 0
    assert '| farneback | 8 |' in format_cocon_report(result)


def test_missing_flow_folder_is_named():
    with pytest.raises(FileNotFoundError, match='no_such_folder'):
        run_cocon_benchmark(Config.fromfile(CONFIG), flow_video_dir='/no_such_folder')
