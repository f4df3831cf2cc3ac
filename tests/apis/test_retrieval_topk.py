"""Video retrieval on a gallery smaller than the largest k: the error, raised before any
feature is extracted, and the tool's help say which ``--topk`` works."""
import importlib.util
import os.path as osp

import pytest

from sdc_mmaction.apis.retrieval import check_topk

CONFIG = 'configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'


def test_check_topk_names_the_list_its_size_and_a_topk_that_works():
    check_topk((1, 5, 10, 12), 12, 'train.txt')  # k up to the gallery size is fine
    with pytest.raises(ValueError) as info:
        check_topk((1, 5, 10, 20), 12, 'lists/train.txt')
    message = str(info.value)
    assert 'the gallery list lists/train.txt has 12' in message
    assert '(k = 20 does not fit)' in message
    assert message.endswith('use k <= 12, e.g. tools/retrieval.py --topk 1 5 10')
    # none fits: 1 and the gallery size
    with pytest.raises(ValueError, match=r'k = 5, 10 does not fit.*--topk 1 3$'):
        check_topk((5, 10), 3, 'train.txt')
    with pytest.raises(ValueError, match=r'k = 0 does not fit.*--topk 1$'):
        check_topk((0, 1), 4, 'train.txt')


def test_retrieval_tool_stops_before_extracting_features(tool_runner, generated_dataset):
    root = generated_dataset
    proc = tool_runner([
        'tools/retrieval.py', CONFIG, 'none', '--train-list',
        f'{root}/annotations/train_action.txt', '--test-list',
        f'{root}/annotations/val_action.txt', '--data-prefix', f'{root}/videos',
        '--clip-len', '4', '--num-clips', '1', '--resize', '0', '--crop-size', '32',
        '--topk', '1', '5', '10', '20'], check=False, timeout=300)
    assert proc.returncode != 0
    assert 'ValueError: topk [1, 5, 10, 20]' in proc.stdout, proc.stdout[-3000:]
    assert (f'the gallery list {root}/annotations/train_action.txt has 12 (k = 20 does '
            'not fit); use k <= 12, e.g. tools/retrieval.py --topk 1 5 10') in proc.stdout
    assert 'train features' not in proc.stdout  # the progress bar of the extraction


def test_retrieval_help_says_k_is_bounded_by_the_gallery(repo_root, capsys):
    spec = importlib.util.spec_from_file_location(
        'tool_retrieval', osp.join(repo_root, 'tools', 'retrieval.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit):
        module.parse_args(['--help'])
    help_text = ' '.join(capsys.readouterr().out.split())
    assert ('each k at most the number of videos in --train-list (the gallery)'
            in help_text), help_text
