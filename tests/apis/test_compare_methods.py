"""The method comparison: its statistics against hand-computed values, and a smoke run of
the whole path (two methods, one seed, the smoke preset's data and a few iterations) that
checks the table's shape and that every number is finite, not what the numbers say."""
import json
import math
import os
import os.path as osp

import pytest
import torch

from sdc_mmaction.apis.compare_methods import (LABEL_SETS, METHODS, Method,
                                               _estimate_left, chance_levels,
                                               compare_methods, evaluate_features,
                                               format_markdown, mean_sd, pooled_sign_test,
                                               register_method, summarise)


def test_mean_sd_is_the_sample_standard_deviation():
    stat = mean_sd([0.5, 0.7, 0.9])
    assert stat['n'] == 3
    assert stat['mean'] == pytest.approx(0.7)
    # deviations -0.2, 0, 0.2: (0.04 + 0 + 0.04) / (3 - 1) = 0.04
    assert stat['sd'] == pytest.approx(0.2)
    assert mean_sd([0.25, 0.75])['sd'] == pytest.approx(math.sqrt(0.125))
    # one seed: no spread to report, rather than a made-up 0
    assert mean_sd([0.25]) == dict(mean=0.25, sd=None, n=1)
    with pytest.raises(ValueError, match='finite'):
        mean_sd([0.5, float('nan')])
    with pytest.raises(ValueError, match='no values'):
        mean_sd([])


def test_pooled_sign_test_pools_the_common_seeds():
    a = {0: [True, True, False, False], 1: [True, False, True, True], 2: [True] * 4}
    b = {0: [False, False, False, True], 1: [True, False, False, False], 3: [False] * 4}
    test = pooled_sign_test(a, b)
    # seed 0: A alone on videos 0 and 1, B alone on video 3; seed 1: A alone on 2 and 3.
    # 4 against 1 of 5 discordant pairs: P(X >= 4), X ~ B(5, 1/2) = (5 + 1) / 32
    assert (test['only_a'], test['only_b']) == (4, 1)
    assert test['p_value'] == pytest.approx(6 / 32)
    assert test['seeds'] == [0, 1] and test['pairs'] == 8
    reverse = pooled_sign_test(b, a)
    assert reverse['p_value'] == pytest.approx(31 / 32)  # P(X >= 1)
    with pytest.raises(ValueError, match='no seed in common'):
        pooled_sign_test({0: [True]}, {1: [True]})
    with pytest.raises(ValueError, match='seed 0 has 2 outcomes for A and 1 for B'):
        pooled_sign_test({0: [True, False]}, {0: [True]})


def _run(method, seed, accuracy, correct, features=('v', )):
    """A hand-made run: every probe at ``accuracy``, every probe's outcomes ``correct``."""
    return dict(dataset='default', method=method, seed=seed, iterations=12,
                train_s=60.0 * (seed + 1), total_s=90.0,
                probes={labels: {f: accuracy for f in features} for labels in LABEL_SETS},
                correct={labels: {f: correct for f in features} for labels in LABEL_SETS},
                retrieval={'R@1': accuracy / 2, 'R@5': accuracy})


def test_summarise_means_sds_and_paired_tests():
    runs = [_run('random', 0, 0.25, [True, False, False, False]),
            _run('random', 1, 0.50, [True, True, False, False]),
            _run('sdc', 0, 0.75, [True, True, True, False], ('v', 'q_v_s')),
            _run('sdc', 1, 1.00, [True, True, True, True], ('v', 'q_v_s')),
            _run('sdc', 2, 0.50, [True, True, False, False], ('v', 'q_v_s'))]
    summary = summarise(runs)
    table = summary['tables']['default']
    assert list(table) == ['random', 'sdc']
    cell = table['sdc']['probes']['static']['q_v_s']
    assert cell['mean'] == pytest.approx(0.75) and cell['sd'] == pytest.approx(0.25)
    assert cell['values'] == [0.75, 1.0, 0.5] and cell['n'] == 3
    assert table['random']['probes']['action']['v']['sd'] == pytest.approx(
        math.sqrt(0.03125))
    assert table['sdc']['retrieval']['R@1']['mean'] == pytest.approx(0.375)
    assert table['sdc']['seeds'] == [0, 1, 2] and table['sdc']['iterations'] == [12]
    assert table['sdc']['train_s']['mean'] == pytest.approx(120.0)
    tests = summary['tests']['default']
    assert [(t['a'], t['b'], t['labels']) for t in tests] == \
        [('sdc', 'random', labels) for labels in LABEL_SETS]
    # seeds 0 and 1 pooled (random has no seed 2): SDC alone right on 2 + 2 videos
    assert all((t['only_a'], t['only_b'], t['seeds']) == (4, 0, [0, 1]) for t in tests)
    assert tests[0]['p_value'] == pytest.approx(1 / 16)
    assert tests[0]['p_value_reverse'] == 1.0
    text = format_markdown(summary, dict(preset='smoke', max_epochs=1, batch_size=4,
                                         num_clips=1, data_seed=0))
    assert '| SDC | q_v_s | 3 | 75.0 ± 25.0 |' in text
    assert '| random init | v | 2 | 37.5 ± 17.7 |' in text
    assert '| sdc | random | scene | 2 | 4 | 0 | 0.0625 | 1 |' in text
    with pytest.raises(ValueError, match='a seed occurs twice'):
        summarise(runs + [_run('random', 0, 0.25, [True] * 4)])


def test_evaluate_features_probes_every_label_set():
    """Features that carry one label each are read by the probe of that label only."""
    torch.manual_seed(0)

    def split(n):
        scene, motion = torch.arange(n) % 2, (torch.arange(n) // 2) % 2
        feats = dict(v=torch.stack([scene, motion], 1).float() + 0.01 * torch.randn(n, 2),
                     q_v_s=scene[:, None].float() + 0.01 * torch.randn(n, 1),
                     q_v_d=torch.randn(n, 1))
        labels = dict(action=scene * 2 + motion, static=scene, dynamic=motion)
        only = dict(motion=motion)
        pick = {k: v.clone() for k, v in feats.items()}
        pick['q_v_d'] = motion[:, None].float() + 0.01 * torch.randn(n, 1)
        return (feats, labels), (pick, only)

    (train, train_mo), (val, val_mo) = split(16), split(8)
    extracted = {('scenes', 'train'): train, ('scenes', 'val'): val,
                 ('motion_only', 'train'): train_mo, ('motion_only', 'val'): val_mo}
    res = evaluate_features(extracted, ('v', 'q_v_s', 'q_v_d'))
    assert list(res['probes']) == list(LABEL_SETS)
    assert res['probes']['action']['v'] == 1.0 and res['probes']['static']['q_v_s'] == 1.0
    assert res['probes']['dynamic']['q_v_s'] <= 0.75
    assert res['probes']['motion']['q_v_d'] == 1.0
    assert len(res['correct']['motion']['v']) == 8
    assert res['val_videos'] == dict(scenes=8, motion_only=8)
    assert set(res['retrieval']) == {'R@1', 'R@5'}
    with pytest.raises(KeyError, match=r"lack \['F_v_s'\]"):
        evaluate_features(extracted, ('v', 'F_v_s'))


def test_eta_and_registry_and_chance():
    # pending a at its own mean 15 s, b at the mean of every run, 30 s; two workers
    assert _estimate_left({'a': [10.0, 20.0], 'c': [60.0]}, ['a', 'b'], 2) == \
        pytest.approx(22.5)
    assert _estimate_left({}, ['a'], 1) is None
    with pytest.raises(ValueError, match="'sdc' is already registered"):
        register_method(Method('sdc', 'again', None, extract_config='x.py'))
    with pytest.raises(ValueError, match='features must start with v'):
        Method('x', 'x', 'x.py', features=('q_v_s', ))
    with pytest.raises(ValueError, match='needs an extract_config'):
        Method('x', 'x', None)
    assert set(METHODS) >= {'random', 'supervised', 'sdc', 'sdc_two_tower', 'dclr',
                            'cocon_diff'}
    meta = dict(action_classes=list(range(16)), static_classes=[0] * 4,
                dynamic_classes=[0] * 4)
    assert chance_levels(meta) == dict(action=1 / 16, static=0.25, dynamic=0.25,
                                       motion=0.25)


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"unknown methods \['moco'\]"):
        compare_methods(str(tmp_path / 'a'), methods=['moco'])
    with pytest.raises(ValueError, match=r"unknown datasets \['hard'\]"):
        compare_methods(str(tmp_path / 'a'), datasets=['hard'])
    with pytest.raises(ValueError, match='seeds repeat'):
        compare_methods(str(tmp_path / 'a'), seeds=[1, 1])
    with pytest.raises(ValueError, match='max_parallel must be a positive integer'):
        compare_methods(str(tmp_path / 'a'), max_parallel=0)
    assert not (tmp_path / 'a').exists()


def _numbers(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield node


def test_smoke_comparison_table_shape_and_resume(tmp_path, capsys):
    work = str(tmp_path / 'compare')
    methods = ('random', 'supervised')
    # the harder data only, to stay fast: the default data goes the same way
    kwargs = dict(methods=methods, datasets=('per_video_colour', ), seeds=1,
                  preset='smoke', threads=1)
    summary = compare_methods(work, **kwargs)
    assert list(summary['tables']) == ['per_video_colour']
    for dataset, table in summary['tables'].items():
        assert list(table) == list(methods)
        for method, row in table.items():
            assert row['seeds'] == [0]
            assert list(row['probes']) == list(LABEL_SETS)
            assert all(list(cells) == ['v'] for cells in row['probes'].values())
            for cell in [c for cells in row['probes'].values() for c in cells.values()] + \
                    list(row['retrieval'].values()):
                assert 0 <= cell['mean'] <= 1 and cell['sd'] is None and cell['n'] == 1
            assert list(row['retrieval']) == ['R@1', 'R@5']
        # the smoke data: 12 training videos, batch 4, one epoch
        assert table['random']['iterations'] == [0]
        assert table['supervised']['iterations'] == [3]
        assert [(t['a'], t['b']) for t in summary['tests'][dataset]] == \
            [('supervised', 'random')] * len(LABEL_SETS)
    with open(osp.join(work, 'comparison.json')) as handle:
        saved = json.load(handle)
    numbers = list(_numbers({k: v for k, v in saved.items() if k != 'settings'}))
    assert len(numbers) > 50 and all(math.isfinite(x) for x in numbers)
    text = open(osp.join(work, 'comparison.md')).read()
    assert text.count('| random init | v | 1 |') == 1
    assert text.count('| supervised (action label) | v | 1 |') == 1
    assert 'Chance: action 25.0 %, scene 50.0 %' in text
    assert osp.getsize(osp.join(work, 'comparison.png')) > 10_000
    out = capsys.readouterr().out
    assert '[compare] 2/2 per_video_colour supervised seed 0' in out and 'left' in out

    # a finished run is read back, not repeated; a run without its marker is redone
    # (here by two worker processes)
    os.remove(osp.join(work, 'runs', 'per_video_colour', 'random', 'seed0', 'done'))
    again = compare_methods(work, **dict(kwargs, max_parallel=2))
    out = capsys.readouterr().out
    assert out.count('already done, read back') == 1
    assert 'per_video_colour supervised seed 0 (already done' in out
    assert 'per_video_colour random seed 0 (0.' in out
    for dataset, table in summary['tables'].items():  # the random model is the seed's own
        for method, row in table.items():
            for key in ('probes', 'retrieval', 'iterations'):
                assert again['tables'][dataset][method][key] == row[key]
    with pytest.raises(FileExistsError, match='other settings'):
        compare_methods(work, **dict(kwargs, max_epochs=2))


def test_smoke_dclr_and_cocon_give_their_decoupled_features(tmp_path, capsys):
    from sdc_mmaction.apis.method_features import prepare_optical_flow

    work = str(tmp_path / 'compare')
    methods = ('dclr', 'cocon_diff', 'cocon_flow', 'cocon_flow_random')
    summary = compare_methods(work, methods=methods, datasets=('default', ), seeds=1,
                              preset='smoke', threads=1, figure=False)
    table = summary['tables']['default']
    decoupled = dict(dclr=['v', 'z_vs', 'z_vd'], cocon_diff=['v', 'd'],
                     cocon_flow=['v', 'flow'], cocon_flow_random=['v', 'flow'])
    for method, features in decoupled.items():
        assert {labels: list(cells) for labels, cells in table[method]['probes'].items()} \
            == {labels: features for labels in LABEL_SETS}, method
    for name, row in table.items():
        assert row['iterations'] == [0 if name.endswith('random') else 3]
        for cell in [c for cells in row['probes'].values() for c in cells.values()] + \
                list(row['retrieval'].values()):
            assert 0 <= cell['mean'] <= 1
    # the random encoders are the trained ones before training: another network
    assert table['cocon_flow_random']['probes'] != table['cocon_flow']['probes']
    # the paired tests compare v with v only, and have no SDC or random run to pair with
    assert summary['tests']['default'] == []
    text = open(osp.join(work, 'comparison.md')).read()
    assert '| DCLR | z_vd | 1 |' in text and '| CoCon, RGB + frame difference | d | 1 |' in text
    assert '| CoCon, RGB + flow | flow | 1 |' in text
    assert 'default: prepared the data of cocon_flow' in capsys.readouterr().out
    # the flow of all four lists is there, and a second preparation redoes nothing
    data_root = osp.join(work, 'data', 'default')
    again = prepare_optical_flow(data_root)
    assert list(again) == ['train_action', 'val_action', 'train_motion_only',
                           'val_motion_only']
    assert all(counts['done'] == 0 and counts['skipped'] > 0 for counts in again.values())


def test_a_failed_run_is_named_and_stops_the_comparison(tmp_path):
    """A method registered at run time is unknown to the worker processes: the run fails
    there, and the comparison stops with an error naming the run."""
    register_method(Method('unregistered_elsewhere', 'x', None, extract_config='x.py'))
    try:
        with pytest.raises(RuntimeError, match='the run per_video_colour '
                           'unregistered_elsewhere seed 0 failed .*not registered in this '
                           'process'):
            compare_methods(str(tmp_path / 'c'), methods=['unregistered_elsewhere'],
                            datasets=['per_video_colour'], seeds=1, preset='smoke',
                            max_parallel=2, figure=False)
    finally:
        METHODS.pop('unregistered_elsewhere')
    assert not (tmp_path / 'c' / 'comparison.md').exists()
