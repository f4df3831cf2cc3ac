"""DCLR through the command-line tools on the generated dataset: its tiny config trains
with tools/train.py; a run killed with SIGKILL in the middle of an epoch resumes
(``--resume``) with its queues, pointer and key encoder and continues exactly like a run
that was never interrupted; the converter, linear probe, fine-tune and retrieval tools
take its checkpoint as they take SDC's.

Two real ``tools/train.py`` processes side by side (2 epochs x 2 iterations): an
uninterrupted reference and a run parked after iteration 3 and SIGKILLed; the killed one
is then resumed. The downstream tools run in this process on the reference checkpoint.
"""
import importlib.util
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys

import pytest
import torch

from reliability_helpers import TESTS_DIR, read_log_text, read_scalars_by_run, wait_for

REPO_ROOT = osp.dirname(TESTS_DIR)
CONFIG = osp.join(REPO_ROOT, 'configs', 'dclr',
                  'dclr_r2plus1d-tiny_1xb4-8x1x2-2e_synthetic-rgb.py')
KILL_AFTER_ITER = 3  # epoch 2, batch 1 of 2
ITERS_PER_EPOCH = 2  # the first 8 training videos, batch 4
LOSSES = ['loss', 'loss_act', 'loss_dv', 'loss_sv', 'loss_vd', 'loss_vs', 'loss_vv']


def write_config(path, data_root, extra=''):
    # one worker: mmengine seeds fresh workers identically every epoch, so a resumed
    # epoch draws the augmentations of the uninterrupted run
    text = f"""_base_ = [{CONFIG!r}]
train_dataloader = dict(num_workers=1, dataset=dict(data_root={data_root!r}, indices=8))
"""
    with open(path, 'w') as f:
        f.write(text + extra)
    return str(path)


def _env():
    env = dict(os.environ)
    env['OMP_NUM_THREADS'] = '1'
    env['PYTHONPATH'] = os.pathsep.join([REPO_ROOT, TESTS_DIR, env.get('PYTHONPATH', '')])
    return env


def _train_cmd(config, work_dir, *extra):
    return [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
            work_dir, '--seed', '0', '--deterministic', *extra]


@pytest.fixture(scope='module')
def runs(generated_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp('dclr_resume')
    config = write_config(root / 'dclr_tiny.py', generated_dataset)
    marker = str(root / 'parked')
    parked = write_config(
        root / 'dclr_tiny_parked.py', generated_dataset,
        extra=("custom_imports = dict(imports=['sdc_mmaction', 'reliability_helpers'], "
               'allow_failed_imports=False)\n'
               "custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='ParkTrainingHook', "
               f'at_iter={KILL_AFTER_ITER}, marker={marker!r})]\n'))
    reference_dir, killed_dir = str(root / 'reference'), str(root / 'killed')
    logs = {name: open(root / f'{name}.out', 'w') for name in ('reference', 'killed')}
    reference = subprocess.Popen(_train_cmd(config, reference_dir), cwd=REPO_ROOT,
                                 env=_env(), stdout=logs['reference'],
                                 stderr=subprocess.STDOUT, start_new_session=True)
    killed = subprocess.Popen(_train_cmd(parked, killed_dir), cwd=REPO_ROOT, env=_env(),
                              stdout=logs['killed'], stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        reached = wait_for(lambda: osp.exists(marker), timeout=300, process=killed)
        files_at_kill = sorted(os.listdir(killed_dir)) if osp.isdir(killed_dir) else []
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=60)
        reference.wait(timeout=300)
    finally:
        for proc in (killed, reference):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs.values():
            log.close()
    assert reached, (root / 'killed.out').read_text()[-4000:]
    assert reference.returncode == 0, (root / 'reference.out').read_text()[-4000:]
    resumed = subprocess.run(_train_cmd(config, killed_dir, '--resume'), cwd=REPO_ROOT,
                             env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-4000:]
    return dict(reference_dir=reference_dir, killed_dir=killed_dir,
                files_at_kill=files_at_kill, killed_returncode=killed.returncode)


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_tiny_config_trains_and_saves_its_queues(runs):
    reference, = read_scalars_by_run(runs['reference_dir'])
    assert [r['iter'] for r in reference] == list(range(1, 2 * ITERS_PER_EPOCH + 1))
    assert all(sorted(k for k in r if k.startswith('loss')) == LOSSES for r in reference)
    assert all(0 < r['loss'] < float('inf') for r in reference)
    state = _load(osp.join(runs['reference_dir'], 'epoch_1.pth'))['state_dict']
    assert int(state['queue_filled']) == ITERS_PER_EPOCH * 4
    assert int(state['queue_ptr']) == ITERS_PER_EPOCH * 4
    assert any(k.startswith('key_encoder.module.heads.vv') for k in state)


def test_killed_run_resumes_with_its_queues_and_matches_the_reference(runs):
    assert runs['killed_returncode'] == -signal.SIGKILL
    assert 'epoch_1.pth' in runs['files_at_kill'] and 'epoch_2.pth' not in runs['files_at_kill']
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in read_log_text(runs['killed_dir'])
    reference, = read_scalars_by_run(runs['reference_dir'])
    before_kill, after_resume = read_scalars_by_run(runs['killed_dir'])
    assert [r['iter'] for r in before_kill] == list(range(1, KILL_AFTER_ITER + 1))
    assert [r['iter'] for r in after_resume] == list(range(ITERS_PER_EPOCH + 1,
                                                           2 * ITERS_PER_EPOCH + 1))
    by_iter = {r['iter']: r for r in reference}
    for record in after_resume:
        expected = by_iter[record['iter']]
        # queue_filled shows the restored queue; the losses depend on its contents
        for key in LOSSES + ['lr', 'queue_filled', 'num_positives']:
            assert record[key] == expected[key], (record['iter'], key)
    final = _load(osp.join(runs['killed_dir'], 'epoch_2.pth'))['state_dict']
    reference_final = _load(osp.join(runs['reference_dir'], 'epoch_2.pth'))['state_dict']
    assert sorted(final) == sorted(reference_final)
    for name, value in reference_final.items():
        assert torch.equal(value, final[name]), name


# --------------------------------------------------------------------------- downstream
LINEAR_PROBE_CONFIG = 'configs/sdc/benchmarks/linear-probe_r2plus1d-tiny_synthetic.py'
FINETUNE_CONFIG = 'configs/sdc/benchmarks/finetune_r2plus1d-tiny_synthetic.py'
NUM_ACTIONS = 4  # the generated_dataset fixture: 2 scenes x 2 motions


def run_tool_main(script, argv):
    """``tools/<script>``'s ``main(argv)`` in this process."""
    spec = importlib.util.spec_from_file_location(f'dclr_tool_{script[:-3]}',
                                                  osp.join(REPO_ROOT, 'tools', script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([str(a) for a in argv])


def weights(path):
    from sdc_mmaction.apis.checkpoint import get_state_dict, load_checkpoint_file
    return get_state_dict(load_checkpoint_file(str(path)), str(path))


@pytest.fixture(scope='module')
def converted(runs, tmp_path_factory):
    checkpoint = osp.join(runs['reference_dir'], 'epoch_2.pth')
    backbone = tmp_path_factory.mktemp('dclr_convert') / 'backbone.pth'
    run_tool_main('convert_pretrained.py',
                  [checkpoint, backbone, '--check-config', LINEAR_PROBE_CONFIG])
    return dict(checkpoint=checkpoint, backbone=backbone)


def test_converter_exports_the_query_encoder(converted):
    full = weights(converted['checkpoint'])
    exported = weights(converted['backbone'])
    query = {k: v for k, v in full.items() if k.startswith('backbone.')}
    assert set(exported) == set(query)
    assert all(torch.equal(exported[k], query[k]) for k in query)
    # the key encoder is a different (averaged) network, and it is not exported
    key = {k[len('key_encoder.module.'):]: v for k, v in full.items()
           if k.startswith('key_encoder.module.backbone.')}
    assert set(key) == set(query)
    assert any(not torch.equal(key[k], query[k]) for k in query if k.endswith('weight'))


def test_linear_probe_and_finetune_start_from_the_dclr_backbone(converted, generated_dataset,
                                                                tmp_path):
    backbone = weights(converted['backbone'])
    common = [f'{loader}.dataset.data_root={generated_dataset}'
              for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')] + [
        f'load_from={converted["backbone"]}', 'train_cfg.max_epochs=1',
        f'model.cls_head.num_classes={NUM_ACTIONS}']
    probe_dir = tmp_path / 'linear_probe'
    runner = run_tool_main('train.py', [LINEAR_PROBE_CONFIG, '--work-dir', probe_dir,
                                        '--cfg-options', 'experiment_name=dclr_probe']
                           + common)
    assert 0.0 <= runner.message_hub.get_scalar('val/acc/top1').current() <= 1.0
    probed = weights(probe_dir / 'epoch_1.pth')
    for key, value in backbone.items():  # frozen: exactly the DCLR query backbone
        assert torch.equal(probed[key], value), key
    finetune_dir = tmp_path / 'finetune'
    run_tool_main('train.py', [FINETUNE_CONFIG, '--work-dir', finetune_dir, '--cfg-options',
                               'experiment_name=dclr_finetune'] + common)
    tuned = weights(finetune_dir / 'epoch_1.pth')
    assert any(not torch.equal(tuned[k], v) for k, v in backbone.items()
               if k.endswith('conv_s.weight'))


def test_retrieval_takes_the_pretraining_and_the_converted_checkpoint(
        converted, generated_dataset, tmp_path, capsys):
    from sdc_mmaction.apis.feature_extraction import (build_model, build_video_dataloader,
                                                      extract_video_features,
                                                      feature_pipeline)
    lists = ['--train-list', f'{generated_dataset}/annotations/train_action.txt',
             '--test-list', f'{generated_dataset}/annotations/val_action.txt',
             '--data-prefix', f'{generated_dataset}/videos']
    sampling = ['--clip-len', '8', '--frame-interval', '1', '--num-clips', '2', '--resize',
                '0', '--crop-size', '32', '--topk', '1', '5']
    out, gallery = tmp_path / 'recall.json', tmp_path / 'gallery.pth'
    run_tool_main('retrieval.py', [CONFIG, converted['checkpoint']] + lists + sampling +
                  ['--out', out, '--save-features', gallery, '--no-progress'])
    assert '| R@1 | R@5 |' in capsys.readouterr().out
    recall = json.loads(out.read_text())
    assert 0.0 <= recall['R@1'] <= recall['R@5'] <= 1.0
    saved = torch.load(gallery, weights_only=False)
    assert saved['features'].shape == (12, 64)

    # the whole DCLR checkpoint loads into its own config; a downstream recognizer with
    # the converted backbone gives the same features
    _, loaded = build_model(CONFIG, str(converted['checkpoint']))
    assert loaded == 'model'
    model, loaded = build_model(LINEAR_PROBE_CONFIG, str(converted['backbone']),
                                cfg_options={'model.cls_head.num_classes': NUM_ACTIONS})
    assert loaded == 'backbone'
    loader = build_video_dataloader(
        f'{generated_dataset}/annotations/train_action.txt', f'{generated_dataset}/videos',
        feature_pipeline(clip_len=8, frame_interval=1, num_clips=2, resize=None,
                         crop_size=32))
    feats, _, files = extract_video_features(model, loader, names=['v'], progress=False)
    assert files == saved['filenames']
    assert torch.allclose(feats['v'], saved['features'], rtol=1e-4, atol=1e-5)


def test_tools_test_runs_the_configs_retrieval_loop(converted, generated_dataset, tmp_path):
    """tools/test.py CONFIG CHECKPOINT: the tiny config's own test loop (leave-one-out
    retrieval of the query backbone's v over the validation videos) on a DCLR checkpoint."""
    _, metrics = run_tool_main('test.py', [
        CONFIG, converted['checkpoint'], '--work-dir', tmp_path / 'test', '--cfg-options',
        f'test_dataloader.dataset.data_root={generated_dataset}',
        'experiment_name=dclr_retrieval_test'])
    found = {k[len('retrieval/'):]: v for k, v in metrics.items()}
    # 4 validation videos: each has 3 neighbours, so R@5 and R@10 are not reported
    assert set(found) == {'R@1'}, metrics
    assert all(0.0 <= float(v) <= 1.0 for v in found.values())


def test_dist_train_two_processes_fill_one_global_queue(generated_dataset, tool_runner,
                                                        tmp_path):
    """``tools/dist_train.sh CONFIG 2`` on CPU (gloo): 2 ranks x 2 clips, 2 iterations; the
    saved queue holds the 8 keys of both ranks and the pointer moved by the global batch."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = str(sock.getsockname()[1])
    work_dir = tmp_path / 'dist'
    proc = tool_runner(['tools/dist_train.sh', CONFIG, '2', '--work-dir', str(work_dir),
                        '--cfg-options',
                        f'train_dataloader.dataset.data_root={generated_dataset}',
                        'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=2',
                        'train_cfg.max_epochs=1'],
                       env=dict(OMP_NUM_THREADS='1', PORT=port), timeout=300)
    assert 'Distributed training: True' in proc.stdout
    state = _load(work_dir / 'epoch_1.pth')['state_dict']
    assert int(state['queue_filled']) == int(state['queue_ptr']) == 8
    assert torch.allclose(state['queue_vv'][:8].norm(dim=1), torch.ones(8))
    assert all(not k.startswith('module.') for k in state)
