"""The tiny CoCon configs train on flow extracted from the generated dataset by the flow
tool, resume, and export each view's backbone (tools/convert_pretrained.py --view)."""
import os.path as osp

import pytest
import torch

from reliability_helpers import read_log_text, read_scalars_by_run, unique_experiment_name

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                      'configs', 'cocon')
FLOW_CONFIG = osp.join(CONFIG_DIR, 'cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-flow.py')
DIFF_CONFIG = osp.join(CONFIG_DIR, 'cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-diff.py')
FINETUNE_CONFIG = osp.join(CONFIG_DIR, 'benchmarks',
                           'finetune_r18-2d3d-tiny_1xb4-12x1x1-10e_synthetic-rgb.py')


@pytest.fixture(scope='module')
def rawframes(generated_dataset, tmp_path_factory):
    from sdc_mmaction.apis.optical_flow import extract_flow_dataset

    root = str(tmp_path_factory.mktemp('cocon_rawframes'))
    # Farneback keeps this test short; TV-L1 (the configs' method) is tested with the tool
    for split, count in (('train', 12), ('val', 4)):
        report = extract_flow_dataset(
            osp.join(generated_dataset, 'videos'), root, method='farneback', progress=False,
            list_file=osp.join(generated_dataset, 'annotations', f'{split}_action.txt'))
        assert report['done'] == count and not report['failures']
    return root


def train(config, work_dir, data_root, max_epochs, *extra, options_first=True):
    """tools/train.py in this process; ``extra`` are command-line flags or, with
    ``options_first=False``, more ``--cfg-options`` entries."""
    from sdc_mmaction.apis.train import main
    flags, options = (extra, ()) if options_first else ((), extra)
    return main([config, '--work-dir', str(work_dir), *flags, '--cfg-options',
                 f'train_dataloader.dataset.data_root={data_root}',
                 f'train_cfg.max_epochs={max_epochs}',
                 f'experiment_name={unique_experiment_name(work_dir)}', *options])


@pytest.fixture(scope='module')
def pretrained(rawframes, tmp_path_factory, tool_runner):
    """One epoch of the tiny RGB + flow config, resumed for a second, then each view's
    backbone exported."""
    root = tmp_path_factory.mktemp('cocon_pretrain')
    work_dir = root / 'work'
    train(FLOW_CONFIG, work_dir, rawframes, 1)
    assert osp.isfile(work_dir / 'epoch_1.pth')
    train(FLOW_CONFIG, work_dir, rawframes, 2, '--resume')
    tool_runner(['tools/convert_pretrained.py', str(work_dir / 'epoch_2.pth'),
                 str(root / 'cocon_{view}.pth'), '--view', 'all'])
    return dict(work_dir=work_dir, root=root)


def test_trains_and_resumes(pretrained):
    work_dir = pretrained['work_dir']
    runs = read_scalars_by_run(str(work_dir))
    assert len(runs) == 2
    assert [r['iter'] for r in runs[0]] == [1, 2, 3]  # 12 videos, batch 4
    assert [r['iter'] for r in runs[1]] == [4, 5, 6]  # continued, not restarted
    for record in runs[0] + runs[1]:
        for key in ('loss_cpc_rgb', 'loss_cpc_flow', 'loss_sync_rgb_flow',
                    'loss_sim_rgb_flow'):
            assert torch.isfinite(torch.tensor(record[key])), (key, record)
    checkpoint = torch.load(work_dir / 'epoch_2.pth', map_location='cpu', weights_only=False)
    assert checkpoint['meta']['epoch'] == 2


def test_exports_each_view(pretrained):
    from mmaction.registry import MODELS
    checkpoint = torch.load(pretrained['work_dir'] / 'epoch_2.pth', map_location='cpu',
                            weights_only=False)
    for view, channels in (('rgb', 3), ('flow', 2)):
        exported = torch.load(pretrained['root'] / f'cocon_{view}.pth', map_location='cpu')
        backbone = MODELS.build(dict(type='ResNet2d3d', depth=18, base_channels=8,
                                     in_channels=channels))
        state = {k[len('backbone.'):]: v for k, v in exported['state_dict'].items()}
        backbone.load_state_dict(state, strict=True)
        trained = checkpoint['state_dict'][f'encoders.{view}.backbone.conv1.weight']
        assert torch.equal(state['conv1.weight'], trained)


def test_finetune_from_the_exported_rgb_backbone(pretrained, rawframes, tmp_path):
    rgb = str(pretrained['root'] / 'cocon_rgb.pth')
    train(FINETUNE_CONFIG, tmp_path / 'finetune', rawframes, 1,
          f'val_dataloader.dataset.data_root={rawframes}',
          f'test_dataloader.dataset.data_root={rawframes}', 'train_cfg.val_interval=1',
          'model.cls_head.num_classes=4',  # the test dataset's 2 scenes x 2 motions
          f'load_from={rgb}', options_first=False)
    log = read_log_text(str(tmp_path / 'finetune'))
    assert f'Load checkpoint from {rgb}' in log
    assert 'acc/top1' in log
    # load_from only warns about mismatches: the export fits the fine-tune backbone strictly
    from sdc_mmaction.apis.checkpoint import check_backbone_loads
    exported = torch.load(rgb, map_location='cpu')['state_dict']
    check_backbone_loads({k[len('backbone.'):]: v for k, v in exported.items()},
                         FINETUNE_CONFIG, filename=rgb)


def test_frame_difference_variant_trains(rawframes, tmp_path, monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')
    train(DIFF_CONFIG, tmp_path / 'diff', rawframes, 1)
    (records, ) = read_scalars_by_run(str(tmp_path / 'diff'))
    assert len(records) == 3 and 'loss_sim_rgb_diff' in records[-1]
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in records)


def test_flow_config_pipeline_gives_both_views_of_the_same_frames(rawframes):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import DATASETS
    cfg = Config.fromfile(FLOW_CONFIG)
    init_default_scope('mmaction')
    cfg.train_dataloader.dataset.data_root = rawframes
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 12
    sample = dataset[0]
    assert sample['inputs']['rgb'].shape == (4, 3, 3, 64, 64)
    assert sample['inputs']['flow'].shape == (4, 2, 3, 64, 64)
    assert sample['data_samples'].metainfo['total_frames'] == 15  # frames with flow
    assert len(sample['data_samples'].metainfo['frame_inds']) == 12
