"""The configs of the method comparison (tools/compare_methods.py) train under the SDC
quick start's budget: the same clips (8 frames, every second one, 64 x 64), the same
optimiser and schedule (which the tool's overrides of epochs and T_max reach), and, where
the method uses one, the same backbone and frame-difference scale."""
import os.path as osp

import pytest
from mmengine.config import Config

from sdc_mmaction.apis.compare_methods import METHODS
from sdc_mmaction.apis.quickstart import PRETRAIN_CONFIG, pretrain_command

TRAINED = [name for name, method in METHODS.items() if method.train_config is not None]


def _sampling(pipeline):
    """(clip_len, frame_interval, num_clips) of the one SampleFrames of a pipeline."""
    found = [step for step in pipeline if step['type'] == 'SampleFrames']
    assert len(found) == 1, pipeline
    return found[0]['clip_len'], found[0].get('frame_interval', 1), found[0]['num_clips']


def _resizes(node):
    """Every Resize scale in a (nested) pipeline."""
    if isinstance(node, dict):
        if node.get('type') == 'Resize':
            yield tuple(node['scale'])
        for value in node.values():
            yield from _resizes(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _resizes(value)


@pytest.mark.parametrize('name', TRAINED)
def test_every_trained_method_has_the_quick_starts_budget(name):
    sdc = Config.fromfile(PRETRAIN_CONFIG)
    cfg = Config.fromfile(METHODS[name].train_config)
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == sdc.optim_wrapper.optimizer.lr
    assert cfg.param_scheduler[0].type == 'CosineAnnealingLR'
    assert len(cfg.param_scheduler) == len(sdc.param_scheduler) == 1
    pipeline = cfg.train_dataloader.dataset.pipeline
    clip_len, interval, clips = _sampling(pipeline)
    sdc_len, sdc_interval, _ = _sampling(sdc.train_dataloader.dataset.pipeline)
    assert interval == sdc_interval == 2
    # the frame-difference methods sample one frame more, which the difference takes
    assert clip_len in (sdc_len, sdc_len - 1), clip_len
    assert clips == (2 if name == 'dclr' else 1)
    assert set(_resizes(pipeline)) == {(64, 64)}
    # the tool's overrides (data folder, epochs, T_max, batch) apply to it
    command = pretrain_command('/tmp/w', '/data/x', dict(max_epochs=3, batch_size=8),
                               config=METHODS[name].train_config)
    options = command[command.index('--cfg-options') + 1:]
    overridden = Config.fromfile(METHODS[name].train_config)
    overridden.merge_from_dict(dict(option.split('=', 1) for option in options))
    assert int(overridden.param_scheduler[0].T_max) == 3
    assert overridden.train_dataloader.dataset.data_root == '/data/x'


def test_r2plus1d_methods_share_the_backbone_and_difference_scale():
    sdc = Config.fromfile(PRETRAIN_CONFIG).model
    for name in ('supervised', 'dclr'):
        model = Config.fromfile(METHODS[name].train_config).model
        assert model.backbone == sdc.backbone, name
    dclr = Config.fromfile(METHODS['dclr'].train_config).model
    assert dclr.data_preprocessor.diff_std == sdc.data_preprocessor.diff_std
    cocon = Config.fromfile(METHODS['cocon_diff'].train_config).model
    assert cocon.data_preprocessor.std.diff == [sdc.data_preprocessor.diff_std] * 3
    assert osp.basename(METHODS['cocon_flow'].train_config).endswith('rgb-flow.py')
