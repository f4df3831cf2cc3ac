"""tools/benchmark.py on a DCLR config: DCLR's training step and the stock recognizer's in
one run, with the ratio, memory and DCLR's own data pipeline. No timing assertions."""
import json
import os.path as osp

from mmengine.config import Config

import sdc_mmaction  # noqa: F401  (registration)
from sdc_mmaction.apis.benchmark import (clip_shape_from_config, format_report, run_benchmark,
                                         stock_model_cfg, sdc_model_cfg)

TINY = 'configs/dclr/dclr_r2plus1d-tiny_1xb4-8x1x2-2e_synthetic-rgb.py'


def test_dclr_step_beside_the_stock_step_in_process(repo_root, generated_dataset):
    cfg = Config.fromfile(osp.join(repo_root, TINY))
    cfg.train_dataloader.dataset.data_root = generated_dataset
    assert clip_shape_from_config(cfg) == (8, 64, 64)
    stock = stock_model_cfg(sdc_model_cfg(cfg), num_classes=4)
    assert stock['type'] == 'Recognizer3D' and stock['backbone'] == cfg.model.backbone
    assert stock['cls_head']['in_channels'] == 64
    result = run_benchmark(cfg, batch_size=4, iters=1, warmup=1, device='cpu',
                           num_classes=4, pipeline_clips=4, isolate=False)
    assert result['method'] == 'dclr' and result['settings']['views'] == 6
    assert result['dclr']['losses_finite'] and result['stock']['losses_finite']
    assert set(result['dclr']['final_losses']) >= {'loss_vv', 'loss_act'}
    assert result['dclr']['parameters'] > result['stock']['parameters']  # + key encoder
    assert result['summary']['time_ratio'] > 0 and 'heads_share_direct' not in \
        result['summary']
    assert result['pipeline']['dclr_clips_per_s'] > 0, result['pipeline']
    report = format_report(result)
    assert 'DCLR / stock' in report
    assert 'DCLR benchmark' in report and 'train dataloader (DCLR pipeline only)' in report
    json.dumps(result)  # the tool's --out
