"""The DCLR configs: the Kinetics-400 and UCF-101 recipes hold the paper's schedule and
queue sizes, their global batch divides the queue, their 16 x 112 x 112 pipeline gives the
six views on a real video, and their model runs a step with a narrow backbone."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import DATASETS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
K400 = 'configs/dclr/dclr_r2plus1d-r18_8xb8-16x2x2-200e_kinetics400-rgb.py'
UCF101 = 'configs/dclr/dclr_r2plus1d-r18_8xb8-16x2x2-200e_ucf101-split1-rgb.py'
TINY = 'configs/dclr/dclr_r2plus1d-tiny_1xb4-8x1x2-2e_synthetic-rgb.py'
VIEWS = ('clip', 'static', 'diff', 'clip2', 'static2', 'diff2')
NUM_GPUS = 8  # the file names' 8xb8


def load(path):
    return Config.fromfile(osp.join(REPO, path))


@pytest.mark.parametrize('path,queue', [(K400, 16384), (UCF101, 2048)])
def test_recipe_settings(path, queue):
    cfg = load(path)
    assert cfg.model.type == 'DCLR' and cfg.model.queue_length == queue
    assert cfg.model.backbone.type == 'ResNet2Plus1d' and cfg.model.backbone.depth == 18
    assert cfg.model.temperature == 0.07 and cfg.model.top_k == 5
    assert cfg.model.activation_weight == 0.1 and cfg.model.momentum == 0.001
    assert cfg.model.normalise_activation_alignment is True
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum, optimizer.weight_decay) == \
        ('SGD', 0.01, 0.9, 1e-4)
    assert cfg.train_cfg.max_epochs == 200
    scheduler, = cfg.param_scheduler
    assert scheduler.type == 'MultiStepLR' and scheduler.milestones == [120, 160]
    assert scheduler.gamma == 0.1
    assert (queue % (NUM_GPUS * cfg.train_dataloader.batch_size)) == 0
    assert cfg.train_dataloader.drop_last is True
    sample = cfg.train_pipeline[1]
    assert (sample.clip_len, sample.frame_interval, sample.num_clips) == (17, 2, 2)
    assert cfg.train_pipeline[-1].view_names == VIEWS


def test_recipe_pipeline_gives_six_views_at_full_size(generated_dataset):
    cfg = load(K400)
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.ann_file = f'{generated_dataset}/annotations/train_action.txt'
    dataset_cfg.data_prefix = dict(video=f'{generated_dataset}/videos')
    init_default_scope('mmaction')
    sample = DATASETS.build(dataset_cfg)[0]
    inputs = sample['inputs']
    assert inputs.shape == (6, 3, 16, 112, 112)
    assert sample['data_samples'].metainfo['view_names'] == VIEWS
    # the static frame repeats; the differences are signed; the clips are not one view
    assert torch.equal(inputs[1, :, 0], inputs[1, :, -1])
    assert inputs[2].min() < 0
    assert not torch.equal(inputs[0], inputs[3])


@pytest.mark.parametrize('path', [K400, UCF101])
def test_recipe_model_runs_a_step_with_a_narrow_backbone(path):
    cfg = load(path)
    cfg.model.backbone.update(base_channels=4, norm_cfg=dict(type='BN3d', requires_grad=True))
    cfg.model.head.update(in_channels=32)
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    losses = model(torch.randn(2, 6, 3, 8, 32, 32), None, mode='loss')
    assert all(torch.isfinite(v) for v in losses.values())
    assert model.queue_vv.shape == (cfg.model.queue_length, 128)


def test_tiny_config_pipeline_on_generated_data(generated_dataset):
    cfg = load(TINY)
    cfg.train_dataloader.dataset.data_root = generated_dataset
    init_default_scope('mmaction')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 12 and dataset[0]['inputs'].shape == (6, 3, 8, 64, 64)
    assert cfg.model.queue_length % cfg.train_dataloader.batch_size == 0


def test_dclr_metafile_rows_are_the_posters_and_in_the_model_zoo():
    import yaml
    with open(osp.join(REPO, 'model-index.yml')) as handle:
        assert 'configs/dclr/metafile.yml' in yaml.safe_load(handle)['Import']
    with open(osp.join(REPO, 'configs', 'dclr', 'metafile.yml')) as handle:
        metafile = yaml.safe_load(handle)
    with open(osp.join(REPO, 'docs', 'model_zoo.md')) as handle:
        zoo = handle.read().split('## Baseline: DCLR')[1].split('\n## ')[0]
    with open(osp.join(REPO, 'configs', 'dclr', 'README.md')) as handle:
        readme = handle.read()
    # the poster's Tab. 1-2 (../shared/seeds/dclr_poster.md)
    expected = {
        'dclr_r2plus1d-r18_k400-pretrain_linear-probe': {'UCF-101': 72.3, 'HMDB-51': 46.4},
        'dclr_r2plus1d-r18_k400-pretrain_finetune': {'UCF-101': 83.3, 'HMDB-51': 52.7,
                                                    'Diving-48': 75.1},
        'dclr_r2plus1d-r18_ucf101-pretrain_finetune': {'UCF-101': 82.3, 'HMDB-51': 50.1,
                                                      'Diving-48': 72.7},
    }
    assert sorted(m['Name'] for m in metafile['Models']) == sorted(expected)
    for model in metafile['Models']:
        assert model['In Collection'] == 'DCLR'
        assert 'not reproduced here' in model['Metadata']['Results Source']
        assert 'Weights' not in model and 'Training Log' not in model
        for path in (model['Config'], model['Metadata']['Pretrain Config']):
            assert osp.isfile(osp.join(REPO, path)), path
        got = {r['Dataset']: r['Metrics']['Top 1 Accuracy'] for r in model['Results']}
        assert got == expected[model['Name']]
        for value in got.values():
            assert f'| {value} |' in zoo and f'| {value} |' in readme, value
    assert 'not reproduced here' in zoo
