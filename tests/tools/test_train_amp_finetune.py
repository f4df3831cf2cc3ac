"""``tools/train.py --amp`` fine-tunes a recognizer on CPU (bfloat16 autocast): one epoch
of the tiny fine-tuning config on the generated dataset, with validation."""
import json
import math
import os
import os.path as osp

import torch
from mmengine.config import Config

FINETUNE_CONFIG = 'configs/sdc/benchmarks/finetune_r2plus1d-tiny_synthetic.py'
NUM_ACTIONS = 4  # the generated_dataset fixture: 2 scenes x 2 motions


def test_amp_finetune_runs_one_epoch(tool_runner, generated_dataset, tmp_path):
    work_dir = tmp_path / 'amp_finetune'
    roots = [f'{loader}.dataset.data_root={generated_dataset}'
             for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    # 8 training videos in batches of 4: two iterations, then validation on 4 videos
    tool_runner(['tools/train.py', FINETUNE_CONFIG, '--amp', '--work-dir', str(work_dir),
                 '--cfg-options', *roots, 'load_from=None', 'train_cfg.max_epochs=1',
                 f'model.cls_head.num_classes={NUM_ACTIONS}',
                 'train_dataloader.batch_size=4', 'train_dataloader.dataset.indices=8',
                 'model.backbone.base_channels=4', 'model.cls_head.in_channels=32'],
                timeout=300)

    dumped = Config.fromfile(str(work_dir / osp.basename(FINETUNE_CONFIG)))
    assert dumped.optim_wrapper.type == 'CPUAmpOptimWrapper'
    run, = [d for d in os.listdir(work_dir) if osp.isdir(work_dir / d / 'vis_data')]
    with open(work_dir / run / 'vis_data' / 'scalars.json') as handle:
        rows = [json.loads(line) for line in handle]
    train = [row for row in rows if 'loss_cls' in row]
    assert [(row['epoch'], row['iter']) for row in train] == [(1, 1), (1, 2)]
    # the head's accuracy, computed from the bfloat16 scores, and a finite float loss
    for row in train:
        assert math.isfinite(row['loss_cls']) and 0.0 <= row['top1_acc'] <= 1.0
    val, = [row for row in rows if 'acc/top1' in row]
    assert 0.0 <= val['acc/top1'] <= 1.0
    checkpoint = torch.load(work_dir / 'epoch_1.pth', map_location='cpu',
                            weights_only=False)
    # parameters stay float32 under autocast
    weights = checkpoint['state_dict'].values()
    assert all(w.dtype == torch.float32 for w in weights if w.is_floating_point())
