"""Configs: every file loads and builds; the pre-training configs hold the paper's settings
and a deterministic retrieval test loop; the full-size K400 config runs one iteration and
the tiny config trains with a falling loss through tools/train.py on the generated dataset.
(Resuming, tools/test.py and the distributed launchers are in test_tools.py.)"""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import DATASETS, MODELS
from conftest import REPO_ROOT  # noqa: E402

REPO = REPO_ROOT
CONFIGS = sorted(
    osp.relpath(path, REPO)
    for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(path, REPO).split(osp.sep))
PRETRAIN_CONFIGS = [
    'configs/sdc_r2plus1d_k400.py', 'configs/sdc/sdc_r2plus1d-r18_8xb8-16x1x1-200e_ucf101-split1-rgb.py',
    'configs/sdc/sdc_s3d_8xb8-16x1x1-100e_kinetics400-rgb.py', 'configs/sdc/sdc-authors-recipe_r2plus1d-r18_8xb8-16x1x1-200e_kinetics400-rgb.py',
    'configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'
]
TINY = 'configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'


def load(path):
    return Config.fromfile(osp.join(REPO, path))


def test_pretraining_configs_are_found():
    assert set(PRETRAIN_CONFIGS) <= set(CONFIGS)


@pytest.mark.parametrize('path', CONFIGS)
def test_config_loads_and_model_builds(path):
    cfg = load(path)
    assert cfg.default_scope == 'mmaction'
    assert 'sdc_mmaction' in cfg.custom_imports['imports']
    assert cfg.custom_imports.get('allow_failed_imports', False) is False
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # full size on CPU: build only, no forward
    assert sum(p.numel() for p in model.parameters()) > 0


def pipeline_step(cfg, name):
    steps = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == name]
    assert len(steps) == 1, name
    return steps[0]


def check_sdc_settings(cfg, epochs, clip_len, size, concepts=50, top_k=5, warmup=5):
    model = cfg.model
    assert model.type == 'ConceptPretrainRecognizer'
    assert model.shared_backbone is True
    assert model.align_head.num_static_concepts == concepts
    assert model.align_head.num_dynamic_concepts == concepts
    assert model.local_head.num_static_concepts == concepts
    assert model.local_head.top_k == top_k
    # Eq. 11: alpha = beta = 1, gamma = 0.01
    assert model.local_head.loss_weight == 1.0
    assert model.align_head.alignment_weight == 1.0
    assert model.align_head.fidelity_weight == 1.0
    assert model.align_head.diversity_weight == 0.01
    assert model.align_head.type == 'ConceptAlignHead'
    assert cfg.train_cfg.max_epochs == epochs
    hooks = {h['type']: h for h in cfg.custom_hooks}
    assert hooks['LocalLossWarmupHook']['warmup_epochs'] == warmup
    assert 'ConceptQueueHook' in hooks
    # T + 1 frames decoded for T differences; every view T x size x size
    assert pipeline_step(cfg, 'SampleFrames')['clip_len'] == clip_len + 1
    assert pipeline_step(cfg, 'StaticFrame')['clip_len'] == clip_len
    resizes = [t for t in cfg.train_dataloader.dataset.pipeline
               if t['type'] == 'Resize' and t.get('keep_ratio') is False]
    assert resizes and all(tuple(t['scale']) == (size, size) for t in resizes)
    assert pipeline_step(cfg, 'PackConceptInputs')['view_names'] == ('clip', 'static', 'diff')
    assert 'auto_scale_lr' in cfg and cfg.auto_scale_lr.base_batch_size > 0


def check_paper_optimizer(cfg):
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'SGD' and optimizer.lr == 1e-2 and optimizer.weight_decay == 1e-4


def test_k400_r2plus1d_paper_settings():
    cfg = load('configs/sdc_r2plus1d_k400.py')
    check_sdc_settings(cfg, epochs=100, clip_len=16, size=112)
    check_paper_optimizer(cfg)
    assert cfg.model.backbone.type == 'ResNet2Plus1d' and cfg.model.backbone.depth == 18
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    dataset = cfg.train_dataloader.dataset
    assert dataset.ann_file == 'data/kinetics400/kinetics400_train_list_videos.txt'
    assert dataset.data_prefix.video == 'data/kinetics400/videos_train'
    assert cfg.train_dataloader.batch_size == 8 and cfg.auto_scale_lr.base_batch_size == 64


def test_ucf101_paper_settings():
    cfg = load('configs/sdc/sdc_r2plus1d-r18_8xb8-16x1x1-200e_ucf101-split1-rgb.py')
    check_sdc_settings(cfg, epochs=200, clip_len=16, size=112)
    check_paper_optimizer(cfg)
    assert cfg.param_scheduler[0].T_max == 200
    dataset = cfg.train_dataloader.dataset
    assert dataset.ann_file == 'data/ucf101/ucf101_train_split_1_videos.txt'
    assert dataset.data_prefix.video == 'data/ucf101/videos'


def test_s3d_paper_settings():
    cfg = load('configs/sdc/sdc_s3d_8xb8-16x1x1-100e_kinetics400-rgb.py')
    check_sdc_settings(cfg, epochs=100, clip_len=16, size=128)
    check_paper_optimizer(cfg)
    assert cfg.model.backbone.type == 'S3D'
    assert cfg.model.align_head.in_channels == cfg.model.local_head.in_channels == 1024


def test_authors_recipe_settings():
    cfg = load('configs/sdc/sdc-authors-recipe_r2plus1d-r18_8xb8-16x1x1-200e_kinetics400-rgb.py')
    check_sdc_settings(cfg, epochs=200, clip_len=16, size=128, concepts=100, top_k=10,
                       warmup=10)
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == 1e-3 and optimizer.weight_decay == 1e-5
    assert 'momentum' not in optimizer
    assert cfg.param_scheduler[0].milestones == [120, 160]
    contrast = cfg.model.contrast_head
    assert contrast.type == 'ViewContrastHead' and contrast.temperature == 0.07
    assert contrast.out_channels == 128
    assert [tuple(p) for p in contrast.pairs] == [('clip', 'static'), ('clip', 'diff')]
    # the paper's own configs train Eq. 11 alone
    assert 'contrast_head' not in load('configs/sdc_r2plus1d_k400.py').model


def step_of(pipeline, name):
    steps = [t for t in pipeline if t['type'] == name]
    assert len(steps) == 1, name
    return steps[0]


@pytest.mark.parametrize('path', PRETRAIN_CONFIGS)
def test_pretraining_test_loop_is_deterministic_retrieval(path):
    """tools/test.py on a pretraining checkpoint: leave-one-out retrieval of v, R@1/5/10,
    over num_clips centre-cropped clips of the training clip size; no validation."""
    cfg = load(path)
    assert cfg.test_cfg.type == 'TestLoop'
    assert cfg.test_evaluator == dict(type='VideoRetrievalMetric', topk=(1, 5, 10),
                                      feature_key='v')
    assert 'gallery' not in cfg.test_evaluator  # leave-one-out over the evaluated videos
    loader = cfg.test_dataloader
    assert loader.sampler == dict(type='DefaultSampler', shuffle=False)
    assert loader.dataset.test_mode is True
    pipeline = loader.dataset.pipeline
    sample = step_of(pipeline, 'SampleFrames')
    assert sample.test_mode is True and sample.num_clips == 10
    assert sample.clip_len == pipeline_step(cfg, 'StaticFrame')['clip_len']
    assert sample.frame_interval == pipeline_step(cfg, 'SampleFrames')['frame_interval']
    train_resizes = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'Resize']
    crop = step_of(pipeline, 'CenterCrop')['crop_size']
    assert all(tuple(t['scale']) == (crop, crop) for t in train_resizes
               if t.get('keep_ratio') is False)
    # the short side the training crops start from (the tiny config has none: the crop)
    short_sides = [t['scale'] for t in train_resizes if t['scale'][0] == -1] or [(-1, crop)]
    assert step_of(pipeline, 'Resize')['scale'] == short_sides[0]
    assert not [t['type'] for t in pipeline
                if 'Random' in t['type'] or t['type'] in ('Flip', 'StaticFrame')]
    assert pipeline[-1]['type'] == 'PackActionInputs'  # clip only: v is all it needs
    assert not cfg.get('val_cfg') and not cfg.get('val_dataloader')


def test_paper_configs_test_their_own_validation_lists():
    k400 = load('configs/sdc_r2plus1d_k400.py').test_dataloader.dataset
    assert k400.ann_file == 'data/kinetics400/kinetics400_val_list_videos.txt'
    assert k400.data_prefix.video == 'data/kinetics400/videos_val'
    ucf = load('configs/sdc/sdc_r2plus1d-r18_8xb8-16x1x1-200e_ucf101-split1-rgb.py').test_dataloader.dataset
    assert ucf.ann_file == 'data/ucf101/ucf101_val_split_1_videos.txt'
    assert ucf.data_prefix.video == 'data/ucf101/videos'


def test_tiny_config_pipeline_on_generated_data(generated_dataset):
    cfg = load(TINY)
    cfg.train_dataloader.dataset.data_root = generated_dataset
    init_default_scope('mmaction')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 12
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 3, 8, 64, 64)
    assert sample['data_samples'].metainfo['view_names'] == ('clip', 'static', 'diff')

    cfg.test_dataloader.dataset.data_root = generated_dataset
    test_set = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(test_set) == 4  # val_action.txt
    first, again = test_set[0], test_set[0]
    assert first['inputs'].shape == (10, 3, 8, 64, 64)  # 10 clips, C, T, H, W
    assert torch.equal(first['inputs'], again['inputs'])  # deterministic
    assert 'view_names' not in first['data_samples'].metainfo


def read_scalars(work_dir):
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    assert logs, f'no scalars.json under {work_dir}'
    rows = []
    with open(logs[-1]) as f:
        for line in f:
            rows.append(json.loads(line))
    return [r for r in rows if 'loss' in r]


def test_full_size_k400_config_runs_one_iteration(tool_runner, generated_dataset, tmp_path):
    """The real R(2+1)D-18 and the real 16 x 112 x 112 pipeline, on two generated videos."""
    work_dir = str(tmp_path / 'work')
    proc = tool_runner([
        'tools/train.py', 'configs/sdc_r2plus1d_k400.py', '--work-dir', work_dir,
        '--cfg-options',
        f'train_dataloader.dataset.ann_file={generated_dataset}/annotations/train_action.txt',
        f'train_dataloader.dataset.data_prefix.video={generated_dataset}/videos',
        'train_dataloader.dataset.indices=2', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=1', 'default_hooks.checkpoint.save_last=False',
        'default_hooks.checkpoint.interval=10', 'default_hooks.logger.interval=1'
    ], timeout=300)
    rows = read_scalars(work_dir)
    assert len(rows) == 1, proc.stdout[-3000:]
    for key in ('loss', 'loss_aln', 'loss_fid', 'loss_div', 'loss_loc'):
        assert key in rows[0] and rows[0][key] == rows[0][key], key  # present, not NaN
    assert rows[0]['loss_loc'] == 0.0  # epoch 0 is in the 5-epoch warm-up


def test_tiny_config_trains_with_falling_loss(tool_runner, generated_dataset, tmp_path):
    """8 epochs of 3 iterations on CPU.

    Also the end-to-end check of the hooks: the warm-up weight in the log and the score
    queue in the checkpoint (test_tools.py checks that --resume restores both).
    """
    work_dir = str(tmp_path / 'work')
    data_root = f'train_dataloader.dataset.data_root={generated_dataset}'
    proc = tool_runner(['tools/train.py', TINY, '--work-dir', work_dir,
                        '--cfg-options', data_root], timeout=300)
    rows = read_scalars(work_dir)
    epochs = sorted({r['epoch'] for r in rows})
    assert epochs == list(range(1, 9)), proc.stdout[-3000:]

    def epoch_mean(epoch, key):
        values = [r[key] for r in rows if r['epoch'] == epoch]
        return sum(values) / len(values)

    # warm-up: L_loc weighted by 0 in the first epoch only
    assert all(r['loss_loc'] == 0.0 for r in rows if r['epoch'] == 1)
    # after it L_loc counts (a batch with no valid concept pair gives exactly 0, so ask
    # for a positive value in every epoch, not in every iteration)
    for epoch in range(2, 9):
        assert any(r['loss_loc'] > 0.0 for r in rows if r['epoch'] == epoch), epoch
    assert 'LocalLossWarmupHook: epoch 1: local_head.loss_weight = 1' in proc.stdout

    # the objective without L_loc (which only starts in epoch 2) falls
    def global_loss(epoch):
        return sum(epoch_mean(epoch, k) for k in ('loss_aln', 'loss_fid', 'loss_div'))

    first, last = global_loss(1), (global_loss(7) + global_loss(8)) / 2
    assert last < 0.95 * first, [round(global_loss(e), 3) for e in epochs]

    checkpoint = torch.load(osp.join(work_dir, 'epoch_8.pth'), map_location='cpu',
                            weights_only=False)
    queue = checkpoint['concept_queue']
    # 7 epochs of 3 batches of 4 since the queue started (epoch 2) fill all 32 rows
    assert queue['world_size'] == 1 and queue['states'][0]['filled'] == 32
    assert queue['states'][0]['scores']['clip'].shape == (32, 16)


@pytest.mark.parametrize('path', PRETRAIN_CONFIGS)
def test_warmup_leaves_the_held_off_local_head_as_it_is(path):
    """The warm-up holds L_loc at weight 0, so the local head's gradient is exactly zero;
    the config's optimiser must then leave it alone (Adam's coupled weight decay would move
    every weight about lr per step towards zero)."""
    from mmengine.optim import build_optim_wrapper
    cfg = load(path)
    init_default_scope('mmaction')
    torch.manual_seed(0)
    head = torch.nn.Linear(64, 64)
    before = head.weight.detach().clone()
    wrapper = build_optim_wrapper(head, cfg.optim_wrapper)
    steps = 24  # one warm-up epoch of the quick start
    for _ in range(steps):
        wrapper.update_params(0.0 * head(torch.ones(1, 64)).sum())
    lr = cfg.optim_wrapper.optimizer.lr
    change = (head.weight.detach() - before).abs().max().item()
    assert change < 0.01 * steps * lr, (path, change)


def test_entry_point_is_the_scheme_named_k400_config():
    """`tools/dist_train.sh configs/sdc_r2plus1d_k400.py 8` trains exactly the scheme-named
    config: same model, data, optimiser and schedule."""
    entry = load('configs/sdc_r2plus1d_k400.py').to_dict()
    full = load('configs/sdc/sdc_r2plus1d-r18_8xb8-16x1x1-100e_kinetics400-rgb.py').to_dict()
    for key in ('model', 'train_dataloader', 'test_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg', 'custom_hooks', 'auto_scale_lr'):
        assert entry[key] == full[key], key
    assert entry == full
