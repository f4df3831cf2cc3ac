"""Every CoCon config builds; the pretraining ones compute their losses and the fine-tune
ones a classification loss on small random inputs; the big ones keep the recipe."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmaction.registry import MODELS, TRANSFORMS
from mmaction.structures import ActionDataSample

import sdc_mmaction  # noqa: F401

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                      'configs', 'cocon')
PRETRAIN = sorted(glob.glob(osp.join(CONFIG_DIR, 'cocon_*.py')))
FINETUNE = sorted(glob.glob(osp.join(CONFIG_DIR, 'benchmarks', '*.py')))


def build_transforms(pipeline):
    return [TRANSFORMS.build(t) for t in pipeline]


def test_found_the_configs():
    assert len(PRETRAIN) >= 5 and len(FINETUNE) >= 3


@pytest.mark.parametrize('path', PRETRAIN, ids=osp.basename)
def test_pretrain_config_builds_and_computes_its_losses(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    build_transforms(cfg.train_dataloader.dataset.pipeline)
    model = MODELS.build(cfg.model)
    model.init_weights()
    views = cfg.model.views
    blocks = cfg.model.num_blocks
    # small frames and two clips keep this fast; the block layout is the config's
    inputs = {name: [torch.rand(blocks, view.in_channels, 3, 64, 64) * 255 for _ in range(2)]
              for name, view in views.items()}
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=None), True)
    losses = model(**data, mode='loss')
    names = list(views)
    assert {f'loss_cpc_{v}' for v in names} <= set(losses)
    assert f'loss_sim_{names[0]}_{names[1]}' in losses
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize('path', [p for p in PRETRAIN if 'tiny' not in p], ids=osp.basename)
def test_full_size_recipe(path):
    cfg = Config.fromfile(path)
    assert cfg.train_dataloader.batch_size == 16  # x 8 GPUs (tools/dist_train.sh CONFIG 8)
    assert cfg.optim_wrapper.optimizer.type == 'Adam'
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.model.num_blocks == 8 and cfg.model.num_pred_steps == 3
    assert cfg.model.backbone.depth == 18
    sample = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'SampleFrames'][0]
    assert sample.clip_len in (40, 41) and sample.frame_interval == 3
    resize = [t for view in cfg.train_dataloader.dataset.pipeline[1].views.values()
              for t in view.transforms if t.type == 'Resize']
    assert resize and all(tuple(t.scale) == (128, 128) for t in resize)
    assert cfg.model.sync_weight == 10 and cfg.model.sim_weight == 10


@pytest.mark.parametrize('path', FINETUNE, ids=osp.basename)
def test_finetune_config_builds_and_trains_a_step(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        build_transforms(cfg[loader].dataset.pipeline)
    cfg.model.backbone.base_channels = 8  # keep the step cheap; the layout is the config's
    cfg.model.cls_head.in_channels = 32
    model = MODELS.build(cfg.model)
    model.init_weights()
    blocks = cfg.model.cls_head.num_blocks
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    data = dict(inputs=[torch.rand(blocks, 3, 5, 64, 64) * 255 for _ in range(2)],
                data_samples=samples)
    data = model.data_preprocessor(data, True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss_cls'])
    model.eval()
    test = dict(inputs=[torch.rand(3 * blocks, 3, 5, 64, 64) * 255 for _ in range(2)],
                data_samples=[ActionDataSample().set_gt_label(0) for _ in range(2)])
    with torch.no_grad():
        predictions = model.test_step(test)
    assert len(predictions) == 2
    assert predictions[0].pred_score.shape == (cfg.model.cls_head.num_classes, )


def test_split_blocks_keeps_time_order():
    split = TRANSFORMS.build(dict(type='SplitBlocks', num_blocks=4))
    imgs = np.arange(2 * 1 * 8).reshape(2, 1, 8, 1, 1).astype(np.float32)
    out = split(dict(imgs=imgs))['imgs']
    assert out.shape == (8, 1, 2, 1, 1)
    assert out[:, 0, :, 0, 0].tolist() == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9],
                                            [10, 11], [12, 13], [14, 15]]
    with pytest.raises(ValueError, match='multiple'):
        TRANSFORMS.build(dict(type='SplitBlocks', num_blocks=3))(dict(imgs=imgs))


def test_pretrained_rgb_backbone_fits_the_finetune_config():
    from sdc_mmaction.apis.checkpoint import check_backbone_loads
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, 'cocon_r18-2d3d_8xb16-40x3x1-100e_ucf101-rgb-flow.py'))
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    state = model.encoders['rgb']['backbone'].state_dict()
    full_size = [path for path in FINETUNE if 'tiny' not in path]
    assert full_size
    for path in full_size:
        check_backbone_loads(state, path)  # raises on any missing key or shape mismatch
    with pytest.raises(ValueError, match='shape mismatches'):
        check_backbone_loads(model.encoders['flow']['backbone'].state_dict(), FINETUNE[0])


def test_metafile_rows_point_at_real_configs_and_are_marked_not_reproduced():
    import yaml
    repo = osp.dirname(osp.dirname(CONFIG_DIR))
    with open(osp.join(repo, 'model-index.yml')) as handle:
        assert 'configs/cocon/metafile.yml' in yaml.safe_load(handle)['Import']
    with open(osp.join(CONFIG_DIR, 'metafile.yml')) as handle:
        metafile = yaml.safe_load(handle)
    with open(osp.join(repo, 'docs', 'model_zoo.md')) as handle:
        zoo = handle.read()
    names = [m['Name'] for m in metafile['Models']]
    assert len(names) == len(set(names)) == 6
    for model in metafile['Models']:
        assert model['In Collection'] == 'CoCon'
        assert osp.isfile(osp.join(repo, model['Config'])), model['Config']
        pretrain = model['Metadata']['Pretrain Config']
        assert pretrain.startswith('none here') or osp.isfile(osp.join(repo, pretrain))
        assert 'not reproduced here' in model['Metadata']['Results Source']
        assert 'Weights' not in model and 'Training Log' not in model
        for result in model['Results']:
            for value in result['Metrics'].values():
                assert f'| {value} |' in zoo, (model['Name'], value)


def test_validation_finds_a_misspelled_transform_inside_a_view():
    from sdc_mmaction.apis.validate import ConfigValidationError, validate_config
    cfg = Config.fromfile(osp.join(CONFIG_DIR, PRETRAIN[-1]))
    cfg.train_dataloader.dataset.pipeline[1].views.flow.transforms[1].type = 'RandomCorp'
    with pytest.raises(ConfigValidationError) as error:
        validate_config(cfg)
    assert 'pipeline[1].views.flow.transforms[1]' in str(error.value)
    assert 'RandomCrop' in str(error.value)  # the closest registered name
