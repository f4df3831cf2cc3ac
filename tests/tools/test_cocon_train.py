"""The tiny CoCon configs train on flow extracted from the generated dataset by the flow
tool, resume, and export each view's backbone (tools/convert_pretrained.py --view)."""
import os.path as osp

import pytest
import torch

from reliability_helpers import read_scalars_by_run, unique_experiment_name

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                      'configs', 'cocon')
FLOW_CONFIG = osp.join(CONFIG_DIR, 'cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-flow.py')
DIFF_CONFIG = osp.join(CONFIG_DIR, 'cocon_r18-2d3d-tiny_1xb4-12x1x1-4e_synthetic-rgb-diff.py')


@pytest.fixture(scope='module')
def rawframes(generated_dataset, tmp_path_factory):
    from sdc_mmaction.apis.optical_flow import extract_flow_dataset

    root = str(tmp_path_factory.mktemp('cocon_rawframes'))
    # Farneback keeps this test short; TV-L1 (the configs' method) is tested with the tool
    report = extract_flow_dataset(
        osp.join(generated_dataset, 'videos'), root, method='farneback', progress=False,
        list_file=osp.join(generated_dataset, 'annotations', 'train_action.txt'))
    assert report['done'] == 12 and not report['failures']
    return root


def train(config, work_dir, data_root, max_epochs, *extra):
    from sdc_mmaction.apis.train import main
    return main([config, '--work-dir', str(work_dir), *extra, '--cfg-options',
                 f'train_dataloader.dataset.data_root={data_root}',
                 f'train_cfg.max_epochs={max_epochs}',
                 f'experiment_name={unique_experiment_name(work_dir)}'])


def test_trains_resumes_and_exports_each_view(rawframes, tmp_path, tool_runner, monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')
    work_dir = tmp_path / 'work'
    train(FLOW_CONFIG, work_dir, rawframes, 1)
    assert osp.isfile(work_dir / 'epoch_1.pth')
    train(FLOW_CONFIG, work_dir, rawframes, 2, '--resume')
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

    tool_runner(['tools/convert_pretrained.py', str(work_dir / 'epoch_2.pth'),
                 str(tmp_path / 'cocon_{view}.pth'), '--view', 'all', '--strip-prefix'])
    from mmaction.registry import MODELS
    for view, channels in (('rgb', 3), ('flow', 2)):
        exported = torch.load(tmp_path / f'cocon_{view}.pth', map_location='cpu')
        backbone = MODELS.build(dict(type='ResNet2d3d', depth=18, base_channels=8,
                                     in_channels=channels))
        backbone.load_state_dict(exported['state_dict'], strict=True)
        trained = checkpoint['state_dict'][f'encoders.{view}.backbone.conv1.weight']
        assert torch.equal(exported['state_dict']['conv1.weight'], trained)


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
