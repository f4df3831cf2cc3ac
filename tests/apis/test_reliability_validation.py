"""Config validation before the runner is built: every problem reported, each naming the
config key to fix."""
import os.path as osp

import pytest
from mmengine.config import Config

import sdc_mmaction  # noqa: F401
from sdc_mmaction.apis.validate import ConfigValidationError, validate_config

from reliability_helpers import write_tiny_supervised_config, write_videos


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    root = tmp_path_factory.mktemp('validation_data')
    ann = write_videos(str(root / 'videos'), num_videos=2)
    return write_tiny_supervised_config(str(root / 'tiny_validation.py'), str(root / 'videos'),
                                        ann)


def _problems(cfg):
    with pytest.raises(ConfigValidationError) as err:
        validate_config(cfg)
    return dict(err.value.problems), str(err.value)


def test_valid_config_passes(tiny_config):
    cfg = Config.fromfile(tiny_config)
    before = cfg.to_dict()
    assert validate_config(cfg) is None
    assert cfg.to_dict() == before  # validation reads the config, never edits it


def test_missing_annotation_file(tiny_config, tmp_path):
    cfg = Config.fromfile(tiny_config)
    cfg.train_dataloader.dataset.ann_file = str(tmp_path / 'missing.txt')
    problems, message = _problems(cfg)
    assert list(problems) == ['train_dataloader.dataset.ann_file']
    assert 'missing.txt' in problems['train_dataloader.dataset.ann_file']
    assert 'train_dataloader.dataset.ann_file' in message


def test_relative_paths_are_joined_with_data_root(tiny_config, tmp_path):
    cfg = Config.fromfile(tiny_config)
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = osp.dirname(dataset.ann_file)
    dataset.ann_file = 'ann.txt'
    dataset.data_prefix = dict(video='')
    validate_config(cfg)  # ann.txt exists under data_root
    dataset.ann_file = 'annotations/train.txt'
    dataset.data_prefix = dict(video='clips')
    problems, _ = _problems(cfg)
    assert osp.join(dataset.data_root, 'annotations/train.txt') in \
        problems['train_dataloader.dataset.ann_file']
    assert 'does not exist' in problems['train_dataloader.dataset.data_prefix.video']


def test_missing_data_root(tiny_config, tmp_path):
    cfg = Config.fromfile(tiny_config)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'no_such_root')
    cfg.train_dataloader.dataset.ann_file = 'annotations/train.txt'  # joined to data_root
    problems, _ = _problems(cfg)
    assert 'no_such_root' in problems['train_dataloader.dataset.data_root']


def test_unused_data_root_is_not_an_error(tiny_config, tmp_path):
    # every path is absolute, so mmengine never joins data_root to anything
    cfg = Config.fromfile(tiny_config)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'no_such_root')
    assert validate_config(cfg) is None
    # while the files it names are still checked
    cfg.train_dataloader.dataset.ann_file = str(tmp_path / 'missing.txt')
    assert list(_problems(cfg)[0]) == ['train_dataloader.dataset.ann_file']


def test_unknown_backbone_names_registry_and_close_matches(tiny_config):
    cfg = Config.fromfile(tiny_config)
    cfg.model.backbone.type = 'ResNet2plus1D'
    problems, _ = _problems(cfg)
    message = problems['model.backbone.type']
    assert "'ResNet2plus1D' is not registered in the MODELS registry (scope 'mmaction')" \
        in message
    assert 'close matches: ResNet2Plus1d' in message


def test_unknown_transform_hook_and_dataset_wrapped(tiny_config):
    cfg = Config.fromfile(tiny_config)
    inner = cfg.train_dataloader.dataset
    inner.pipeline[2] = dict(type='DecordDecodee')
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=inner)
    cfg.custom_hooks = [dict(type='NonFiniteLosHook')]
    problems, _ = _problems(cfg)
    assert 'close matches: DecordDecode' in \
        problems['train_dataloader.dataset.dataset.pipeline[2].type']
    assert 'close matches: NonFiniteLossHook' in problems['custom_hooks[0].type']


def test_clip_too_short_for_frame_difference(tiny_config):
    cfg = Config.fromfile(tiny_config)
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline[1].clip_len = 1  # SampleFrames
    pipeline.insert(3, dict(type='FrameDifference'))
    problems, _ = _problems(cfg)
    message = problems['train_dataloader.dataset.pipeline[1].clip_len']
    assert 'clip_len=1 is too short' in message and 'FrameDifference' in message
    assert 'T + 1 >= 2' in message
    pipeline[1].clip_len = 2
    validate_config(cfg)


def test_static_frame_length_must_match_the_clip(tiny_config):
    cfg = Config.fromfile(tiny_config)
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline[1].clip_len = 5  # T + 1 frames
    pipeline.insert(3, dict(type='StaticFrame', clip_len=5))
    pipeline.insert(4, dict(type='FrameDifference'))
    problems, _ = _problems(cfg)
    assert 'clips have 4 frames' in problems['train_dataloader.dataset.pipeline[3].clip_len']
    pipeline[3]['clip_len'] = 4
    validate_config(cfg)


def test_all_problems_reported_at_once_and_val_loader_checked(tiny_config, tmp_path):
    cfg = Config.fromfile(tiny_config)
    cfg.model.cls_head.type = 'I3DHeadd'
    cfg.train_dataloader.dataset.ann_file = str(tmp_path / 'a.txt')
    cfg.val_dataloader = dict(batch_size=1, dataset=dict(
        type='VideoDataset', ann_file=str(tmp_path / 'val.txt'), pipeline=[]))
    cfg.val_cfg = dict(type='ValLoop')
    problems, _ = _problems(cfg)
    assert set(problems) == {'model.cls_head.type', 'train_dataloader.dataset.ann_file',
                             'val_dataloader.dataset.ann_file'}
    # --no-validate drops the val loader: it is not checked then
    cfg.val_cfg = None
    assert 'val_dataloader.dataset.ann_file' not in _problems(cfg)[0]


def test_escape_hatch(tiny_config, tmp_path):
    cfg = Config.fromfile(tiny_config)
    cfg.train_dataloader.dataset.ann_file = str(tmp_path / 'missing.txt')
    cfg.validate_config = False
    assert validate_config(cfg) is None
    cfg.validate_config = True  # the switch, not the config, is what lets it through
    assert list(_problems(cfg)[0]) == ['train_dataloader.dataset.ann_file']


def test_train_main_validates_before_building_the_runner(tiny_config, tmp_path):
    from sdc_mmaction.apis.train import main
    work_dir = tmp_path / 'work'
    with pytest.raises(ConfigValidationError, match='train_dataloader.dataset.ann_file'):
        main([tiny_config, '--work-dir', str(work_dir), '--cfg-options',
              f'train_dataloader.dataset.ann_file={tmp_path}/missing.txt'])
    assert not work_dir.exists()  # the runner (which creates the work dir) was never built


def test_sdc_tiny_config_validates_and_nested_transforms_are_checked(generated_dataset):
    from reliability_helpers import SDC_TINY_CONFIG
    cfg = Config.fromfile(SDC_TINY_CONFIG)
    cfg.train_dataloader.dataset.data_root = generated_dataset
    validate_config(cfg)
    static = [step for step in cfg.train_dataloader.dataset.pipeline
              if step['type'] == 'StaticFrame'][0]
    static['crop_pipeline'][0]['type'] = 'RandomResizedCropp'
    cfg.train_dataloader.dataset.data_root = generated_dataset + '/nope'
    problems, _ = _problems(cfg)
    index = cfg.train_dataloader.dataset.pipeline.index(static)
    key = f'train_dataloader.dataset.pipeline[{index}].crop_pipeline[0].type'
    assert 'close matches: RandomResizedCrop' in problems[key]
    assert {'train_dataloader.dataset.data_root', 'train_dataloader.dataset.ann_file',
            'train_dataloader.dataset.data_prefix.video'} <= set(problems)
