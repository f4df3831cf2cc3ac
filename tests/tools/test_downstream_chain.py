"""The downstream chain on the generated dataset, through the command-line tools:
pretrain a tiny SDC model (1 epoch) -> convert -> linear probe (1 epoch) -> fine-tune
(1 epoch) -> retrieval -> concept analysis, plus the retrieval metric in a test loop.

One pretraining run serves the whole module (module-scoped fixture). Pretraining runs
``tools/train.py`` in a fresh interpreter, as a user would; the later steps call the
same tools' ``main(argv)`` in this process (the interpreter start and imports cost several
seconds per tool on a 2-core machine).
"""
import importlib.util
import json
import os.path as osp

import pytest
import torch

from sdc_mmaction.apis.checkpoint import get_state_dict, load_checkpoint_file
from conftest import REPO_ROOT  # noqa: E402

PRETRAIN_CONFIG = 'configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'
LINEAR_PROBE_CONFIG = 'configs/sdc/benchmarks/linear-probe_r2plus1d-tiny_synthetic.py'
FINETUNE_CONFIG = 'configs/sdc/benchmarks/finetune_r2plus1d-tiny_synthetic.py'
NUM_ACTIONS = 4  # the generated_dataset fixture: 2 scenes x 2 motions


def run_tool_main(script, argv):
    """``tools/<script>``'s ``main(argv)`` in this process (its ``__main__`` guard keeps
    the import from running it)."""
    path = osp.join(REPO_ROOT, 'tools', script)
    spec = importlib.util.spec_from_file_location(f'tool_{script[:-3]}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([str(a) for a in argv])


def weights(path):
    return get_state_dict(load_checkpoint_file(str(path)), str(path))


def data_root_options(root):
    return [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]


@pytest.fixture(scope='module')
def pretrained(generated_dataset, tool_runner, tmp_path_factory):
    """A 1-epoch tiny SDC pretraining run (3 iterations of 4 videos) and its backbone."""
    work_dir = tmp_path_factory.mktemp('sdc_pretrain')
    tool_runner(['tools/train.py', PRETRAIN_CONFIG, '--work-dir', str(work_dir),
                 '--cfg-options', f'train_dataloader.dataset.data_root={generated_dataset}',
                 'train_dataloader.batch_size=4', 'train_cfg.max_epochs=1'], timeout=300)
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file(), sorted(p.name for p in work_dir.iterdir())
    backbone = work_dir / 'backbone.pth'
    run_tool_main('convert_pretrained.py',
                  [checkpoint, backbone, '--check-config', LINEAR_PROBE_CONFIG])
    return dict(checkpoint=checkpoint, backbone=backbone, work_dir=work_dir)


def test_converted_backbone_is_the_pretrained_backbone(pretrained):
    full = weights(pretrained['checkpoint'])
    converted = weights(pretrained['backbone'])
    expected = {k: v for k, v in full.items() if k.startswith('backbone.')}
    assert set(converted) == set(expected)
    assert all(torch.equal(converted[k], expected[k]) for k in expected)
    assert any(k.startswith('align_head.') for k in full)  # it was an SDC checkpoint


def test_linear_probe_then_finetune(pretrained, generated_dataset, tmp_path, capsys):
    backbone = weights(pretrained['backbone'])
    common = data_root_options(generated_dataset) + [
        f'load_from={pretrained["backbone"]}', 'train_cfg.max_epochs=1',
        f'model.cls_head.num_classes={NUM_ACTIONS}'
    ]
    probe_dir = tmp_path / 'linear_probe'
    runner = run_tool_main('train.py', [LINEAR_PROBE_CONFIG, '--work-dir', probe_dir,
                                        '--cfg-options', 'experiment_name=linear_probe']
                           + common)
    assert 0.0 <= runner.message_hub.get_scalar('val/acc/top1').current() <= 1.0
    probed = weights(probe_dir / 'epoch_1.pth')
    # every backbone weight and BatchNorm buffer exactly as pretrained; the head learned
    for key, value in backbone.items():
        assert torch.equal(probed[key], value), key
    assert probed['cls_head.fc_cls.weight'].shape == (NUM_ACTIONS, 64)

    finetune_dir = tmp_path / 'finetune'
    run_tool_main('train.py', [FINETUNE_CONFIG, '--work-dir', finetune_dir, '--cfg-options',
                               'experiment_name=finetune'] + common)
    tuned = weights(finetune_dir / 'epoch_1.pth')
    moved = [k for k, v in backbone.items() if not torch.equal(tuned[k], v)]
    assert any(k.endswith('running_mean') for k in moved)
    assert any(k.endswith('conv_s.weight') for k in moved)


def test_retrieval_with_pretraining_and_converted_checkpoints(pretrained, generated_dataset,
                                                              tmp_path, capsys):
    from sdc_mmaction.apis.feature_extraction import (build_model, build_video_dataloader,
                                                      extract_video_features,
                                                      feature_pipeline)

    lists = [
        '--train-list', f'{generated_dataset}/annotations/train_action.txt',
        '--test-list', f'{generated_dataset}/annotations/val_action.txt',
        '--data-prefix', f'{generated_dataset}/videos'
    ]
    sampling = ['--clip-len', '8', '--frame-interval', '2', '--num-clips', '2', '--resize',
                '0', '--crop-size', '32', '--topk', '1', '5', '10']
    out = tmp_path / 'recall.json'
    gallery = tmp_path / 'train_feats.pth'
    run_tool_main('retrieval.py', [PRETRAIN_CONFIG, pretrained['checkpoint']] + lists +
                  sampling + ['--out', out, '--save-features', gallery, '--no-progress'])
    assert '| R@1 | R@5 | R@10 |' in capsys.readouterr().out
    recall = json.loads(out.read_text())
    assert list(recall) == ['R@1', 'R@5', 'R@10']
    assert all(0.0 <= v <= 1.0 for v in recall.values())
    assert recall['R@1'] <= recall['R@5'] <= recall['R@10']
    saved = torch.load(gallery, weights_only=False)
    assert saved['features'].shape[0] == len(saved['labels']) == 12

    # a downstream recognizer with the converted backbone gives the same features (same
    # weights, same normalisation); compared as features, not recalls, because a barely
    # trained model's neighbours nearly tie
    model, loaded = build_model(LINEAR_PROBE_CONFIG, str(pretrained['backbone']),
                                cfg_options={'model.cls_head.num_classes': NUM_ACTIONS})
    assert loaded == 'backbone'
    loader = build_video_dataloader(
        f'{generated_dataset}/annotations/train_action.txt', f'{generated_dataset}/videos',
        feature_pipeline(clip_len=8, frame_interval=2, num_clips=2, resize=None,
                         crop_size=32))
    feats, labels, files = extract_video_features(model, loader, names=['v'],
                                                  progress=False)
    assert files == saved['filenames'] and torch.equal(labels, saved['labels'])
    assert torch.allclose(feats['v'], saved['features'], rtol=1e-4, atol=1e-5)


def test_retrieval_metric_in_a_test_loop(pretrained, generated_dataset, tmp_path):
    """VideoRetrievalMetric with the pretraining model's predict mode, leave-one-out over
    the evaluated videos, agrees with the library's features and recall function."""
    from sdc_mmaction.apis.feature_extraction import (build_model, build_video_dataloader,
                                                      extract_video_features,
                                                      feature_pipeline)
    from sdc_mmaction.evaluation.metrics import retrieval_recall

    pipeline = feature_pipeline(clip_len=8, frame_interval=2, num_clips=2, resize=None,
                                crop_size=32)
    config = tmp_path / 'sdc_tiny_with_retrieval_test.py'
    config.write_text('\n'.join([
        f"_base_ = ['{osp.abspath(PRETRAIN_CONFIG)}']",
        f'test_pipeline = {pipeline!r}',
        'test_dataloader = dict(batch_size=2, num_workers=0, '
        "sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict("
        f"type='VideoDataset', ann_file='{generated_dataset}/annotations/train_action.txt', "
        f"data_prefix=dict(video='{generated_dataset}/videos'), pipeline=test_pipeline, "
        'test_mode=True))',
        "test_evaluator = dict(type='VideoRetrievalMetric', topk=(1, 3))",
        "test_cfg = dict(_delete_=True, type='TestLoop')",
    ]) + '\n')
    _, metrics = run_tool_main('test.py', [config, pretrained['checkpoint'], '--work-dir',
                                           tmp_path / 'test', '--cfg-options',
                                           'experiment_name=retrieval_metric'])
    found = {k[len('retrieval/'):]: v for k, v in metrics.items()}
    assert set(found) == {'R@1', 'R@3'}, metrics

    model, loaded = build_model(PRETRAIN_CONFIG, str(pretrained['checkpoint']))
    assert loaded == 'model'
    # the test loop's batches (2 videos), so that both compute bit-identical features: a
    # barely trained model's features nearly tie, and a last-bit difference could flip
    # a neighbour
    loader = build_video_dataloader(f'{generated_dataset}/annotations/train_action.txt',
                                    f'{generated_dataset}/videos', pipeline, batch_size=2)
    feats, labels, _ = extract_video_features(model, loader, names=['v'], progress=False)
    expected = retrieval_recall(feats['v'], labels, feats['v'], labels, (1, 3),
                                exclude_self=True)
    for key, value in expected.items():
        assert float(found[key]) == pytest.approx(value, abs=1e-4)


def test_concept_analysis_table(pretrained, generated_dataset, tmp_path, capsys):
    ann = f'{generated_dataset}/annotations'
    out_dir = tmp_path / 'concepts'
    run_tool_main('concept_analysis.py', [
        PRETRAIN_CONFIG, pretrained['checkpoint'],
        '--train-list', f'{ann}/train_action.txt', '--val-list', f'{ann}/val_action.txt',
        '--data-prefix', f'{generated_dataset}/videos', '--label-name', 'action',
        '--extra-labels', 'static', f'{ann}/train_static.txt', f'{ann}/val_static.txt',
        '--extra-labels', 'dynamic', f'{ann}/train_dynamic.txt', f'{ann}/val_dynamic.txt',
        '--clip-len', '8', '--frame-interval', '2', '--resize', '0', '--crop-size', '32',
        '--max-iter', '50', '--out-dir', out_dir
    ])
    assert '| labels | v | q_v | q_v^s | q_v^d | F_v | F_v^s | F_v^d |' in \
        capsys.readouterr().out
    report = json.loads((out_dir / 'concept_analysis.json').read_text())
    results = report['results']
    assert list(results) == ['action', 'static', 'dynamic']
    for row in results.values():
        assert list(row) == ['v', 'q_v', 'q_v_s', 'q_v_d', 'F_v', 'F_v_s', 'F_v_d']
        assert all(0.0 <= acc <= 1.0 for acc in row.values())
    assert report['settings']['num_train'] == 12 and report['settings']['num_val'] == 4
    markdown = (out_dir / 'concept_analysis.md').read_text()
    assert markdown.splitlines()[2].startswith('| action | ')

    # other columns: the concept distributions and the frame difference's own features
    run_tool_main('concept_analysis.py', [
        PRETRAIN_CONFIG, pretrained['checkpoint'],
        '--train-list', f'{ann}/train_dynamic.txt', '--val-list', f'{ann}/val_dynamic.txt',
        '--data-prefix', f'{generated_dataset}/videos', '--label-name', 'dynamic',
        '--features', 'q_v_d', 'p_v_s', 'p_v_d', 'd', '--clip-len', '8', '--frame-interval',
        '2', '--resize', '0', '--crop-size', '32', '--max-iter', '50', '--no-progress'
    ])
    assert '| labels | q_v^d | p_v_s | p_v_d | d |' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_tool_main('concept_analysis.py', [
            PRETRAIN_CONFIG, 'none', '--train-list', 'x', '--val-list', 'y',
            '--data-prefix', 'z', '--features', 'p_v'])
