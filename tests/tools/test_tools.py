"""Acceptance of the command-line tools on the tiny SDC config and the generated dataset.

End to end, each tool in a fresh interpreter as a user runs it (shared through module
fixtures so that every run happens once):

- ``tools/train.py`` trains 3 epochs (the uninterrupted reference), and ``--resume
  <epoch_2.pth>`` continues that run in another work dir: epoch, iteration, learning rate,
  warm-up weight and score queue go on where the checkpoint stopped;
- ``tools/test.py CONFIG CHECKPOINT`` runs the config's retrieval test loop, prints R@k and
  ``--dump`` writes the predictions, from which R@k is recomputed independently;
- ``tools/dist_train.sh CONFIG 2`` and ``tools/dist_test.sh CONFIG CKPT 2`` run two CPU
  processes (gloo) with no extra flags; distributed testing gives the single-process result.

In process: how ``sdc_mmaction.apis.train`` / ``.test`` merge their arguments into a config.
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import pickle
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config

import sdc_mmaction  # noqa: F401  (registration)
from sdc_mmaction.apis import test as test_api
from sdc_mmaction.apis import train as train_api
from conftest import REPO_ROOT  # noqa: E402
from conftest import free_port

REPO = REPO_ROOT
TINY = 'configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'
K400 = 'configs/sdc_r2plus1d_k400.py'

TINY_CFG = Config.fromfile(osp.join(REPO, TINY))
# 8 of the generated dataset's 12 training videos, batch 4: 2 iterations per epoch
TRAIN_VIDEOS = 8
BATCH_SIZE = TINY_CFG.train_dataloader.batch_size
ITERS_PER_EPOCH = TRAIN_VIDEOS // BATCH_SIZE
REFERENCE_EPOCHS = 3
# The generated dataset's val lists hold one video per action class, too few for
# leave-one-out retrieval; the training list has 3 per class, so R@1/5/10 mean something.
TEST_VIDEOS = 12
TOPK = (1, 5, 10)
ENV = {'OMP_NUM_THREADS': '1'}


def cosine_lr(step):
    """The lr of the 0-based iteration ``step`` under the tiny config's schedule: a cosine
    from the optimiser's lr to eta_min over T_max epochs, stepped every iteration."""
    scheduler, = TINY_CFG.param_scheduler
    assert scheduler.type == 'CosineAnnealingLR' and scheduler.convert_to_iter_based
    base, low = TINY_CFG.optim_wrapper.optimizer.lr, scheduler.eta_min
    total = scheduler.T_max * ITERS_PER_EPOCH  # T_max is fixed by the config file
    return low + (base - low) * (1 + math.cos(math.pi * step / total)) / 2


def queue_rows_after(epochs):
    """Rows of the score queue filled after ``epochs`` epochs of one process."""
    head = TINY_CFG.model.align_head
    queued = max(0, epochs - head.queue_start_epoch) * ITERS_PER_EPOCH * BATCH_SIZE
    return min(head.queue_length, queued)


def training_options(data_root, max_epochs):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
            f'train_dataloader.dataset.indices={TRAIN_VIDEOS}',
            f'train_cfg.max_epochs={max_epochs}']


def evaluation_options(data_root):
    return ['--cfg-options', f'test_dataloader.dataset.data_root={data_root}',
            'test_dataloader.dataset.ann_file=annotations/train_action.txt',
            'test_dataloader.dataset.pipeline.1.num_clips=2']


def read_scalars(work_dir):
    """The training rows of the (single) run in ``work_dir``."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    assert len(runs) == 1, runs
    with open(osp.join(work_dir, runs[0], 'vis_data', 'scalars.json')) as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if 'loss' in r]


def load_checkpoint(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def printed_recall(stdout):
    """R@k values of the last ``Epoch(test)`` line of mmengine's log."""
    lines = [line for line in stdout.splitlines() if 'retrieval/R@' in line]
    assert lines, stdout[-3000:]
    return {f'R@{k}': float(v) for k, v in re.findall(r'retrieval/R@(\d+): ([0-9.]+)',
                                                      lines[-1])}


def leave_one_out_recall(feats, labels, topk):
    """Straightforward R@k: centre by the mean, L2-normalise, cosine, never oneself."""
    x = feats.astype(np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1, kind='stable')
    return {f'R@{k}': float((labels[order[:, :k]] == labels[:, None]).any(axis=1).mean())
            for k in topk}


def dumped_features(path):
    with open(path, 'rb') as f:
        samples = pickle.load(f)
    feats = np.stack([np.asarray(s['v']) for s in samples])
    labels = np.array([int(np.asarray(s['gt_label']).reshape(-1)[0]) for s in samples])
    return samples, feats, labels


# ---------------------------------------------------------------------- end to end
@pytest.fixture(scope='module')
def runs(tool_runner, generated_dataset, tmp_path_factory):
    """A 3-epoch reference run, and a run resumed from its epoch-2 checkpoint."""
    root = tmp_path_factory.mktemp('tools')
    reference, resumed = str(root / 'reference'), str(root / 'resumed')
    reference_proc = tool_runner(
        ['tools/train.py', TINY, '--work-dir', reference,
         *training_options(generated_dataset, REFERENCE_EPOCHS)], env=ENV, timeout=300)
    # One epoch past the reference: epoch 3 is compared with it, epoch 4 shows that
    # extending a run continues the schedule (test_resume_to_more_epochs_...).
    resumed_proc = tool_runner(
        ['tools/train.py', TINY, '--work-dir', resumed, '--resume',
         osp.join(reference, 'epoch_2.pth'),
         *training_options(generated_dataset, REFERENCE_EPOCHS + 1)], env=ENV, timeout=300)
    return dict(root=root, data=generated_dataset, reference=reference, resumed=resumed,
                reference_log=reference_proc.stdout, resumed_log=resumed_proc.stdout)


def test_training_follows_the_configured_schedule(runs):
    rows = read_scalars(runs['reference'])
    total = REFERENCE_EPOCHS * ITERS_PER_EPOCH
    assert [r['iter'] for r in rows] == list(range(1, total + 1)), \
        runs['reference_log'][-3000:]
    assert [r['epoch'] for r in rows] == [1 + i // ITERS_PER_EPOCH for i in range(total)]
    # the lr logged for an iteration is the one it used: the cosine at its 0-based index
    for row in rows:
        assert row['lr'] == pytest.approx(cosine_lr(row['iter'] - 1), rel=1e-6), row
    # L_loc warm-up: weight 0 in the first epoch only (LocalLossWarmupHook)
    assert all((r['loss_loc'] == 0.0) == (r['epoch'] == 1) for r in rows)
    for epoch in range(1, REFERENCE_EPOCHS + 1):
        meta = load_checkpoint(osp.join(runs['reference'], f'epoch_{epoch}.pth'))['meta']
        assert (meta['epoch'], meta['iter']) == (epoch, epoch * ITERS_PER_EPOCH)


def test_resume_continues_epoch_iteration_lr_and_hook_state(runs):
    log = runs['resumed_log']
    assert f'resumed epoch: 2, iter: {2 * ITERS_PER_EPOCH}' in log, log[-3000:]
    # the hooks' state comes back: the queue filled in epoch 2, alpha after the warm-up
    assert 'ConceptQueueHook: restored the score queue' in log
    assert 'LocalLossWarmupHook: epoch 2: local_head.loss_weight = 1' in log

    reference = {r['iter']: r for r in read_scalars(runs['reference'])}
    resumed = read_scalars(runs['resumed'])
    first = resumed[0]
    assert (first['epoch'], first['iter']) == (3, 2 * ITERS_PER_EPOCH + 1)
    epoch3 = [r for r in resumed if r['epoch'] == 3]
    assert [r['iter'] for r in epoch3] == [2 * ITERS_PER_EPOCH + i + 1
                                           for i in range(ITERS_PER_EPOCH)]
    for row in epoch3:
        # the uninterrupted run's lr, to the last bit, and the schedule's value
        assert row['lr'] == reference[row['iter']]['lr']
        assert row['lr'] == pytest.approx(cosine_lr(row['iter'] - 1), rel=1e-6)
        assert row['loss_loc'] > 0.0

    ours = load_checkpoint(osp.join(runs['resumed'], 'epoch_3.pth'))
    theirs = load_checkpoint(osp.join(runs['reference'], 'epoch_3.pth'))
    assert (ours['meta']['epoch'], ours['meta']['iter']) == (3, 3 * ITERS_PER_EPOCH)
    # After the last iteration of epoch 3 the resumed run's scheduler (its end is in
    # epoch 4) stepped to the lr of the next iteration; the reference's had reached its
    # end, so it kept the lr of its last iteration and did not count that step.
    assert ours['optimizer']['param_groups'][0]['lr'] == \
        pytest.approx(cosine_lr(3 * ITERS_PER_EPOCH), rel=1e-6)
    assert theirs['optimizer']['param_groups'][0]['lr'] == \
        pytest.approx(cosine_lr(3 * ITERS_PER_EPOCH - 1), rel=1e-6)
    ours_scheduler, = ours['param_schedulers']
    theirs_scheduler, = theirs['param_schedulers']
    assert ours_scheduler['_global_step'] == theirs_scheduler['_global_step'] == \
        3 * ITERS_PER_EPOCH
    assert ours_scheduler['last_step'] == theirs_scheduler['last_step'] + 1
    # queue: the rows of epoch 2 restored + those of epoch 3 (a fresh queue would hold
    # only the latter)
    assert queue_rows_after(3) > queue_rows_after(2) > 0
    queue = ours['concept_queue']['states'][0]
    assert queue['filled'] == theirs['concept_queue']['states'][0]['filled'] == \
        queue_rows_after(3)


def test_resume_to_more_epochs_continues_the_cosine(runs):
    """Resumed with max_epochs 4 from a 3-epoch run's checkpoint, epoch 4 follows the
    schedule of a fresh 4-epoch run (the cosine over the config's T_max goes on), not the
    checkpoint's scheduler end (ResumeScheduleFromConfigHook, in the default runtime)."""
    assert ("ResumeScheduleFromConfigHook: CosineAnnealingLR.end = "
            f"{(REFERENCE_EPOCHS + 1) * ITERS_PER_EPOCH} from the config (the checkpoint "
            f"had {REFERENCE_EPOCHS * ITERS_PER_EPOCH})") in runs['resumed_log']
    epoch4 = [r for r in read_scalars(runs['resumed']) if r['epoch'] == 4]
    assert [r['iter'] for r in epoch4] == [3 * ITERS_PER_EPOCH + i + 1
                                           for i in range(ITERS_PER_EPOCH)]
    for row in epoch4:
        assert row['lr'] == pytest.approx(cosine_lr(row['iter'] - 1), rel=1e-6)
    # the lr still falls in every iteration of epoch 4
    lrs = [r['lr'] for r in read_scalars(runs['resumed'])]
    assert all(a > b for a, b in zip(lrs, lrs[1:])), lrs


@pytest.fixture(scope='module')
def tested(runs, tool_runner):
    """``tools/test.py`` on the reference run's last checkpoint, with ``--dump``."""
    checkpoint = osp.join(runs['reference'], f'epoch_{REFERENCE_EPOCHS}.pth')
    dump = str(runs['root'] / 'single.pkl')
    proc = tool_runner(['tools/test.py', TINY, checkpoint, '--work-dir',
                        str(runs['root'] / 'test'), '--dump', dump,
                        *evaluation_options(runs['data'])], env=ENV, timeout=300)
    return dict(checkpoint=checkpoint, dump=dump, log=proc.stdout)


def test_test_tool_prints_retrieval_recall_and_dumps_predictions(tested):
    recall = printed_recall(tested['log'])
    assert set(recall) == {f'R@{k}' for k in TOPK}, tested['log'][-3000:]
    assert 'Results has been saved to' in tested['log']

    samples, feats, labels = dumped_features(tested['dump'])
    assert len(samples) == TEST_VIDEOS
    assert feats.shape == (TEST_VIDEOS, TINY_CFG.channels) and np.isfinite(feats).all()
    assert sorted(np.bincount(labels)) == [3, 3, 3, 3]
    # the printed numbers are leave-one-out retrieval of the dumped clip features v
    expected = leave_one_out_recall(feats, labels, TOPK)
    for key, value in expected.items():
        assert recall[key] == pytest.approx(value, abs=1e-4), (recall, expected)


def test_dist_train_two_processes_on_cpu(tool_runner, generated_dataset, tmp_path):
    work_dir = str(tmp_path / 'dist')
    proc = tool_runner(['tools/dist_train.sh', TINY, '2', '--work-dir', work_dir,
                        *training_options(generated_dataset, 1)],
                       env=dict(ENV, PORT=str(free_port())), timeout=300)
    assert proc.returncode == 0
    assert 'Distributed training: True' in proc.stdout
    rows = read_scalars(work_dir)
    # 8 videos over 2 ranks with 4 each: one iteration
    assert [(r['epoch'], r['iter']) for r in rows] == [(1, 1)]
    checkpoint = load_checkpoint(osp.join(work_dir, 'epoch_1.pth'))
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (1, 1)
    assert checkpoint['concept_queue']['world_size'] == 2
    # DDP's `module.` prefix is not in the saved weights
    assert all(not k.startswith('module.') for k in checkpoint['state_dict'])


def test_dist_test_matches_single_process(tested, runs, tool_runner):
    dump = str(runs['root'] / 'dist.pkl')
    proc = tool_runner(['tools/dist_test.sh', TINY, tested['checkpoint'], '2', '--work-dir',
                        str(runs['root'] / 'dist_test'), '--dump', dump,
                        *evaluation_options(runs['data'])],
                       env=dict(ENV, PORT=str(free_port())), timeout=300)
    assert printed_recall(proc.stdout) == printed_recall(tested['log'])
    # the ranks' halves are gathered back into the dataset's order
    _, feats, labels = dumped_features(dump)
    _, single_feats, single_labels = dumped_features(tested['dump'])
    np.testing.assert_array_equal(labels, single_labels)
    np.testing.assert_allclose(feats, single_feats, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------- argument merging
@pytest.fixture
def tiny_cfg():
    return copy.deepcopy(TINY_CFG)


@pytest.fixture
def no_local_rank(monkeypatch):
    """parse_args sets LOCAL_RANK when absent; keep that out of the other tests."""
    monkeypatch.delenv('LOCAL_RANK', raising=False)


def merge_train(cfg, *argv, config=TINY):
    return train_api.merge_args(copy.deepcopy(cfg),
                                train_api.parse_args([config, *map(str, argv)]))


def test_train_work_dir(tiny_cfg, no_local_rank):
    assert merge_train(tiny_cfg, '--work-dir', 'out/x').work_dir == 'out/x'
    # none given and none in the config: ./work_dirs/<config name>
    assert merge_train(tiny_cfg).work_dir == osp.join('./work_dirs',
                                                      'sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb')


def test_train_resume_with_and_without_path(tiny_cfg, no_local_rank):
    plain = merge_train(tiny_cfg)
    assert plain.resume is False and plain.load_from is None
    auto = merge_train(tiny_cfg, '--resume')  # the latest checkpoint of the work dir
    assert auto.resume is True and auto.load_from is None
    explicit = merge_train(tiny_cfg, '--resume', 'w/epoch_2.pth')
    assert explicit.resume is True and explicit.load_from == 'w/epoch_2.pth'
    # a path right after --resume is taken as its value, the config stays positional
    args = train_api.parse_args(['--resume', 'w/epoch_2.pth', TINY])
    assert (args.config, args.resume) == (TINY, 'w/epoch_2.pth')


def test_train_auto_scale_lr(tiny_cfg, no_local_rank):
    assert tiny_cfg.auto_scale_lr.enable is False
    assert merge_train(tiny_cfg, '--auto-scale-lr').auto_scale_lr == dict(
        enable=True, base_batch_size=TINY_CFG.auto_scale_lr.base_batch_size)
    without = copy.deepcopy(tiny_cfg)
    without.auto_scale_lr = dict(enable=False)
    with pytest.raises(ValueError, match='base_batch_size.*sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb'):
        merge_train(without, '--auto-scale-lr')
    without.pop('auto_scale_lr')
    with pytest.raises(ValueError, match='base_batch_size'):
        merge_train(without, '--auto-scale-lr')


def test_train_cfg_options_nested_and_list_items_win(tiny_cfg, no_local_rank):
    cfg = merge_train(tiny_cfg, '--work-dir', 'a', '--cfg-options', 'train_cfg.max_epochs=3',
                      'param_scheduler.0.T_max=3', 'model.local_head.top_k=1',
                      'work_dir=b', 'default_hooks.checkpoint.interval=2')
    assert cfg.train_cfg.max_epochs == 3 and cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.param_scheduler[0].T_max == 3
    assert cfg.param_scheduler[0].type == 'CosineAnnealingLR'
    assert cfg.model.local_head.top_k == 1 and cfg.model.local_head.in_channels == TINY_CFG.channels
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 3
    assert cfg.work_dir == 'b'  # --cfg-options is applied last


def test_train_cfg_options_custom_imports_are_imported(tiny_cfg, no_local_rank, tmp_path,
                                                        monkeypatch):
    # Config.fromfile imports a file's custom_imports; the override must be imported too,
    # or a type it registers is unknown when the model is built
    module = 'sdc_test_override_import'
    (tmp_path / f'{module}.py').write_text(
        'from mmaction.registry import MODELS\n'
        'import torch.nn as nn\n\n\n'
        '@MODELS.register_module()\n'
        'class OverrideImportedHead(nn.Module):\n'
        '    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    from mmaction.registry import MODELS
    merge_train(tiny_cfg)
    assert MODELS.get('OverrideImportedHead') is None
    cfg = merge_train(tiny_cfg, '--cfg-options', f'custom_imports.imports=[{module}]')
    assert list(cfg.custom_imports.imports) == [module]
    assert MODELS.get('OverrideImportedHead') is not None
    with pytest.raises(ImportError, match='sdc_no_such_module'):
        merge_train(tiny_cfg, '--cfg-options', 'custom_imports.imports=[sdc_no_such_module]')
    # the caller's choice to tolerate a failed import is kept
    merge_train(tiny_cfg, '--cfg-options', 'custom_imports.imports=[sdc_no_such_module]',
                'custom_imports.allow_failed_imports=True')


def test_train_seed_and_deterministic(tiny_cfg, no_local_rank):
    bare = copy.deepcopy(tiny_cfg)
    bare.pop('randomness')
    assert 'randomness' not in merge_train(bare)
    cfg = merge_train(bare, '--seed', 7, '--deterministic')
    assert cfg.randomness == dict(seed=7, deterministic=True)
    cfg = merge_train(bare, '--deterministic', '--diff-rank-seed')
    assert cfg.randomness == dict(seed=None, deterministic=True, diff_rank_seed=True)
    # with randomness in the config, the flags override only their own keys
    assert tiny_cfg.randomness.seed == 0
    cfg = merge_train(tiny_cfg, '--seed', 3, '--deterministic')
    assert cfg.randomness == dict(seed=3, diff_rank_seed=False, deterministic=True)


def test_local_rank_spellings(monkeypatch):
    for flag in ('--local-rank', '--local_rank'):
        monkeypatch.delenv('LOCAL_RANK', raising=False)
        assert train_api.parse_args([TINY, flag, '1']).local_rank == 1
        assert os.environ['LOCAL_RANK'] == '1'
        monkeypatch.delenv('LOCAL_RANK', raising=False)
        args = test_api.parse_args([TINY, 'x.pth', f'{flag}=2'])
        assert args.local_rank == 2 and os.environ['LOCAL_RANK'] == '2'
    # torchrun's LOCAL_RANK is kept
    monkeypatch.setenv('LOCAL_RANK', '0')
    assert train_api.parse_args([TINY, '--local-rank', '1']).local_rank == 1
    assert os.environ['LOCAL_RANK'] == '0'


def test_train_launcher_and_no_validate(tiny_cfg, no_local_rank):
    cfg = merge_train(tiny_cfg)
    assert cfg.launcher == 'none' and 'model_wrapper_cfg' not in cfg
    cfg = merge_train(tiny_cfg, '--no-validate')
    assert cfg.val_cfg is None and cfg.val_dataloader is None and cfg.val_evaluator is None
    if torch.cuda.is_available():
        return
    k400 = Config.fromfile(osp.join(REPO, K400))
    cfg = merge_train(k400, '--launcher', 'pytorch', config=K400)
    assert cfg.launcher == 'pytorch'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model.backbone.norm_cfg.type == 'BN3d'  # SyncBN needs GPU modules


@pytest.fixture
def checkpoint_file(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    path.write_bytes(b'')  # merge_args only checks that it exists
    return str(path)


def merge_test(cfg, checkpoint, *argv, config=TINY):
    return test_api.merge_args(copy.deepcopy(cfg),
                               test_api.parse_args([config, checkpoint, *map(str, argv)]))


def test_test_checkpoint_work_dir_and_cfg_options(tiny_cfg, checkpoint_file, no_local_rank,
                                                  tmp_path):
    cfg = merge_test(tiny_cfg, checkpoint_file, '--work-dir', 'out/t', '--cfg-options',
                     'test_dataloader.batch_size=2', 'test_evaluator.topk=[1,2]')
    assert cfg.load_from == checkpoint_file and cfg.work_dir == 'out/t'
    assert cfg.test_dataloader.batch_size == 2 and cfg.test_evaluator.topk == [1, 2]
    assert cfg.test_evaluator.feature_key == 'v'
    assert merge_test(tiny_cfg, checkpoint_file).work_dir == osp.join(
        './work_dirs', 'sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb')
    missing = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        merge_test(tiny_cfg, missing)
    # tools/test.py imports overridden custom_imports too (tools/train.py's test above)
    with pytest.raises(ImportError, match='sdc_no_such_module'):
        merge_test(tiny_cfg, checkpoint_file, '--cfg-options',
                   'custom_imports.imports=[sdc_no_such_module]')


def test_test_dump(tiny_cfg, checkpoint_file, no_local_rank):
    for name in ('out.json', 'out.pkl.txt', 'out'):
        with pytest.raises(ValueError, match=r'\.pkl'):
            merge_test(tiny_cfg, checkpoint_file, '--dump', name)
    cfg = merge_test(tiny_cfg, checkpoint_file, '--dump', 'out.pkl')
    assert cfg.test_evaluator == [
        dict(type='VideoRetrievalMetric', topk=TOPK, feature_key='v'),
        dict(type='DumpResults', out_file_path='out.pkl')]
    cfg.test_evaluator = [cfg.test_evaluator[0]]
    args = test_api.parse_args([TINY, checkpoint_file, '--dump', 'b.pickle'])
    assert test_api.merge_args(cfg, args).test_evaluator[-1].out_file_path == 'b.pickle'


def test_test_show_dir(tiny_cfg, checkpoint_file, no_local_rank):
    # pretraining predicts features, not classes: its configs have no visualisation hook
    with pytest.raises(ValueError, match='default_hooks.visualization'):
        merge_test(tiny_cfg, checkpoint_file, '--show-dir', 'vis')
    with_hook = copy.deepcopy(tiny_cfg)
    with_hook.default_hooks.visualization = dict(type='VisualizationHook', enable=False)
    cfg = merge_test(with_hook, checkpoint_file, '--show-dir', 'vis', '--interval', 3,
                     '--wait-time', 0.5)
    visualization = cfg.default_hooks.visualization
    assert visualization.enable is True and visualization.out_dir == 'vis'
    assert visualization.show is False and visualization.interval == 3
    assert visualization.wait_time == 0.5


def test_parsers_mirror_mmaction2_command_lines():
    """Every MMAction2 tools/train.py and tools/test.py option is accepted."""
    train = train_api.build_parser()
    test = test_api.build_parser()
    assert isinstance(train, argparse.ArgumentParser)
    train_flags = {s for a in train._actions for s in a.option_strings}
    test_flags = {s for a in test._actions for s in a.option_strings}
    assert {'--work-dir', '--resume', '--amp', '--no-validate', '--auto-scale-lr',
            '--seed', '--diff-rank-seed', '--deterministic', '--cfg-options', '--launcher',
            '--local_rank', '--local-rank'} <= train_flags
    assert {'--work-dir', '--dump', '--cfg-options', '--show-dir', '--show', '--interval',
            '--wait-time', '--launcher', '--local_rank', '--local-rank'} <= test_flags
