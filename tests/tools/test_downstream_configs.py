"""Downstream configs: every one loads and builds; the linear probe freezes the backbone,
BatchNorm statistics included; the release metadata points at real files."""
import copy
import glob
import os.path as osp

import pytest
import torch
import yaml

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from conftest import REPO_ROOT

DOWNSTREAM = osp.join(REPO_ROOT, 'configs', 'sdc', 'benchmarks')
FULL_SIZE = sorted(p for p in glob.glob(osp.join(DOWNSTREAM, '*.py')) if 'tiny' not in p)
NUM_CLASSES = {'ucf101-split1': 101, 'hmdb51-split1': 51, 'diving48-v2': 48}


def load(name, **options):
    cfg = Config.fromfile(osp.join(DOWNSTREAM, name))
    if options:
        cfg.merge_from_dict(options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    return cfg


def test_full_size_configs_cover_every_dataset_backbone_and_protocol():
    names = {osp.basename(p) for p in FULL_SIZE}
    expected = {f'{protocol}_{backbone}_{dataset}.py'
                for protocol in ('linear-probe', 'finetune')
                for backbone in ('r2plus1d-18', 's3d') for dataset in NUM_CLASSES}
    assert names == expected


@pytest.mark.parametrize('path', FULL_SIZE, ids=osp.basename)
def test_full_size_config_settings(path):
    cfg = load(osp.basename(path))
    dataset = next(d for d in NUM_CLASSES if d in path)
    assert cfg.model.cls_head.num_classes == NUM_CLASSES[dataset]
    prefix = dict(ucf101='data/ucf101/', hmdb51='data/hmdb51/', diving48='data/diving48/')
    root = prefix[dataset.split('-')[0]]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.ann_file.startswith(root)
        assert cfg[loader].dataset.data_prefix.video == root + 'videos'
    assert cfg.train_dataloader.dataset.ann_file.endswith(
        ('train_split_1_videos.txt', 'train_list_videos.txt'))
    assert cfg.test_dataloader.dataset.pipeline[1].num_clips == 10
    is_s3d = '_s3d_' in path
    assert cfg.model.backbone.type == ('S3D' if is_s3d else 'ResNet2Plus1d')
    assert cfg.model.cls_head.in_channels == (1024 if is_s3d else 512)
    if 'linear-probe' in path:
        assert cfg.model.backbone.frozen_stages == (5 if is_s3d else 4)
        assert cfg.model.backbone.norm_eval is True
        assert cfg.model.cls_head.dropout_ratio == 0.0
    else:
        assert cfg.model.backbone.get('frozen_stages', -1) == -1
        assert cfg.model.backbone.norm_eval is False


def _without_norm_eval(backbone):
    backbone = dict(backbone)
    assert backbone.pop('norm_eval', False) is False
    return backbone


def test_downstream_backbones_equal_the_pretraining_backbones():
    for downstream, pretrain in (('finetune_r2plus1d-18_ucf101-split1.py',
                                  'sdc/sdc_r2plus1d-r18_8xb8-16x1x1-200e_ucf101-split1-rgb.py'),
                                 ('finetune_s3d_ucf101-split1.py',
                                  'sdc/sdc_s3d_8xb8-16x1x1-100e_kinetics400-rgb.py')):
        backbone = load(downstream).model.backbone
        pretrain_cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', pretrain))
        assert _without_norm_eval(backbone) == _without_norm_eval(pretrain_cfg.model.backbone)


def test_tiny_configs_match_the_tiny_pretraining_backbone():
    pretrain = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'sdc',
                                        'sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'))
    for name in ('finetune_r2plus1d-tiny_synthetic.py',
                 'linear-probe_r2plus1d-tiny_synthetic.py'):
        backbone = dict(load(name).model.backbone)
        backbone.pop('frozen_stages', None)
        backbone['norm_eval'] = False
        assert _without_norm_eval(backbone) == _without_norm_eval(
            pretrain.model.backbone), name


def _batch(shape, num_classes, generator, n=4):
    inputs = [torch.randint(0, 256, (1, ) + shape, dtype=torch.uint8, generator=generator)
              for _ in range(n)]
    samples = [ActionDataSample().set_gt_label(int(i % num_classes)) for i in range(n)]
    return dict(inputs=inputs, data_samples=samples)


TINY_S3D = {'model.backbone.width_multiplier': 0.125, 'model.cls_head.in_channels': 128}


@pytest.mark.parametrize('name, options, frozen', [
    ('linear-probe_r2plus1d-tiny_synthetic.py', {}, True),
    ('linear-probe_s3d_hmdb51-split1.py', TINY_S3D, True),
    # the controls: fine-tuning does change weights and statistics, so the check can fail
    ('finetune_r2plus1d-tiny_synthetic.py', {}, False),
    ('finetune_s3d_hmdb51-split1.py', TINY_S3D, False),
])
def test_linear_probe_training_leaves_backbone_weights_and_bn_buffers_unchanged(
        name, options, frozen):
    torch.manual_seed(0)
    cfg = load(name, **options)
    # what the runner does outside distributed training (SyncBN -> BN)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    model.train()  # the runner calls this at the start of every epoch
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    backbone_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.cls_head.state_dict().items()}
    assert any(k.endswith('running_mean') for k in backbone_before)
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):
        model.train()
        losses = model.train_step(
            _batch((3, 8, 32, 32), cfg.model.cls_head.num_classes, generator), optim_wrapper)
        assert torch.isfinite(losses['loss'])

    changed = [k for k, v in model.backbone.state_dict().items()
               if not torch.equal(v, backbone_before[k])]
    head_changed = [k for k, v in model.cls_head.state_dict().items()
                    if not torch.equal(v, head_before[k])]
    assert head_changed, 'the classifier must learn'
    if frozen:
        assert changed == []
        assert all(not p.requires_grad for p in model.backbone.parameters())
        assert all(p.requires_grad for p in model.cls_head.parameters())
    else:
        assert any(k.endswith('running_mean') for k in changed)
        assert any(k.endswith('weight') for k in changed)


def test_metafile_and_model_index_point_at_real_configs():
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as handle:
        index = yaml.safe_load(handle)
    assert 'configs/sdc/metafile.yml' in index['Import']  # other methods list their own
    with open(osp.join(REPO_ROOT, 'configs', 'sdc', 'metafile.yml')) as handle:
        metafile = yaml.safe_load(handle)
    names = [m['Name'] for m in metafile['Models']]
    assert len(names) == len(set(names))
    for model in metafile['Models']:
        assert osp.isfile(osp.join(REPO_ROOT, model['Config'])), model['Config']
        pretrain = model['Metadata']['Pretrain Config']
        assert pretrain == 'none' or osp.isfile(osp.join(REPO_ROOT, pretrain)), pretrain
        # only the paper's numbers, marked so; nothing released
        assert 'not reproduced here' in model['Metadata']['Results Source']
        assert 'Weights' not in model and 'Training Log' not in model
        assert model['In Collection'] == 'SDC'


def test_model_zoo_numbers_agree_with_the_metafile():
    with open(osp.join(REPO_ROOT, 'configs', 'sdc', 'metafile.yml')) as handle:
        metafile = yaml.safe_load(handle)
    with open(osp.join(REPO_ROOT, 'docs', 'model_zoo.md')) as handle:
        zoo = handle.read()
    for model in metafile['Models']:
        for result in model['Results']:
            for value in result['Metrics'].values():
                assert f'| {value} |' in zoo, (model['Name'], value)
