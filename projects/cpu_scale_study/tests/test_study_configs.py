"""The study's configs: each loads, names its custom imports and runs one training step."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import REPO_ROOT
from recognizer_helpers import one_training_step
from mmaction.registry import MODELS

STUDY = osp.join(REPO_ROOT, 'projects', 'cpu_scale_study')
CONFIGS = sorted(osp.relpath(p, REPO_ROOT)
                 for p in glob.glob(osp.join(STUDY, 'configs', '*.py')))


def load(path):
    return Config.fromfile(osp.join(REPO_ROOT, path))


@pytest.mark.parametrize('path', CONFIGS)
def test_study_config_loads_and_builds(path):
    cfg = load(path)
    assert 'sdc_mmaction' in cfg.custom_imports['imports']
    init_default_scope('mmaction')
    assert sum(p.numel() for p in MODELS.build(cfg.model).parameters()) > 0


def test_the_sweep_file_names_existing_configs():
    sweep = load('projects/cpu_scale_study/configs/sweeps/gpu_sweep.py')
    for run in sweep.runs:
        assert osp.isfile(osp.join(REPO_ROOT, run['config'])), run


def test_target_network_config_runs_a_step():
    cfg = load('projects/cpu_scale_study/configs/sdc-target-network_r2plus1d-tiny_synthetic.py')
    assert cfg.model.target_momentum == 0.001 and cfg.model.target_views == ('diff', )
    assert cfg.model.align_head.static_half_weight == 1.0
    hooks = {h['type']: h for h in cfg.custom_hooks}
    assert hooks['LocalLossWarmupHook']['warmup_epochs'] >= 1000  # L_loc off
    # the static half held down for the first half of the run
    assert hooks['StaticHalfWarmupHook'] == dict(type='StaticHalfWarmupHook',
                                                 warmup_epochs=20, warmup_weight=0.3)
    assert cfg.train_cfg.max_epochs == 40 and cfg.param_scheduler[0].T_max == 40
    model, _ = one_training_step(cfg)
    assert int(model.target_backbones['backbone'].steps) == 1


def test_code_regression_config_runs_a_step():
    cfg = load('projects/cpu_scale_study/configs/sdc-code-regression_r2plus1d-tiny_synthetic.py')
    head = cfg.model.align_head
    assert head.dynamic_code_regression_weight == 3.0
    assert head.fidelity_through_dynamic_clip_codes is False
    assert cfg.model.target_views == ('diff', )
    assert cfg.train_cfg.max_epochs == 120 and cfg.param_scheduler[0].T_max == 120
    _, losses = one_training_step(cfg)
    assert losses['loss_code_reg'] > 0


def test_two_tower_config_runs_a_step():
    cfg = load('projects/cpu_scale_study/configs/sdc-two-tower_r2plus1d-tiny_synthetic.py')
    assert cfg.model.type == 'TwoTowerConceptRecognizer'
    assert cfg.model.align_head.dynamic_code_regression_weight == 3.0
    hooks = [(h['type'], h.get('head_name')) for h in cfg.custom_hooks]
    # L_loc off in both towers; the static half at full weight from the start
    assert ('LocalLossWarmupHook', None) in hooks
    assert ('LocalLossWarmupHook', 'dynamic_tower.local_head') in hooks
    assert 'StaticHalfWarmupHook' not in dict(hooks)
    assert cfg.train_cfg.max_epochs == 32 and cfg.param_scheduler[0].T_max == 32
    _, losses = one_training_step(cfg)
    assert losses['loss_code_reg'] > 0 and 'aln_static' in losses and 'aln_dynamic' in losses


def test_two_tower_32px_config_differs_only_in_the_frame_size():
    """The ci preset's config is the quick start's, every frame 32 px instead of 64."""
    base = load('projects/cpu_scale_study/configs/sdc-two-tower_r2plus1d-tiny_synthetic.py')
    small = load('projects/cpu_scale_study/configs/sdc-two-tower_r2plus1d-tiny-32px_synthetic.py')

    def at_size(steps, size):
        # the steps as they would read with every frame size set to ``size``
        out = []
        for step in steps:
            step = dict(step)
            if step['type'] == 'Resize':
                step['scale'] = tuple(size if side != -1 else -1 for side in step['scale'])
            elif step['type'] == 'CenterCrop':
                step['crop_size'] = size
            elif 'crop_pipeline' in step:
                step['crop_pipeline'] = at_size(step['crop_pipeline'], size)
            out.append(step)
        return out

    for loader in ('train_dataloader', 'test_dataloader'):
        base_steps = base[loader].dataset.pipeline
        small_steps = small[loader].dataset.pipeline
        assert at_size(base_steps, 32) == at_size(small_steps, 32)
        assert at_size(small_steps, 32) == [dict(step) for step in small_steps]
        assert at_size(base_steps, 64) == [dict(step) for step in base_steps]
    base.train_dataloader.dataset.pipeline = small.train_dataloader.dataset.pipeline
    base.test_dataloader.dataset.pipeline = small.test_dataloader.dataset.pipeline
    # the file's own variables, read where the pipelines are built
    variables = ('img_size', 'crops', 'train_pipeline', 'test_pipeline')
    assert small.img_size == 32
    assert ({k: v for k, v in base.to_dict().items() if k not in variables}
            == {k: v for k, v in small.to_dict().items() if k not in variables})
    one_training_step(small)
