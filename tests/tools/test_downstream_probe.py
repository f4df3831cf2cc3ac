"""Concept-analysis pieces on hand-made features: the top-concept reduction, the linear
probe and the table."""
import pytest
import torch

from sdc_mmaction.apis.concept_analysis import (TABLE_FEATURES, concept_table_features,
                                                format_markdown, labels_for_videos,
                                                linear_probe, num_top_concepts,
                                                probe_features, read_video_labels,
                                                top_concept_average)


def test_num_top_concepts():
    assert num_top_concepts(100, 0.1) == 10
    assert num_top_concepts(50, 0.1) == 5
    assert num_top_concepts(8, 0.1) == 1
    assert num_top_concepts(30, 0.1) == 3  # no float round-up to 4
    with pytest.raises(ValueError, match='top_ratio'):
        num_top_concepts(10, 0.0)


def test_top_concept_average_picks_the_highest_codes():
    local = torch.arange(2 * 10 * 3, dtype=torch.float32).reshape(2, 10, 3)
    codes = torch.zeros(2, 10)
    codes[0, 7] = 0.9
    codes[1, 2], codes[1, 4] = 0.5, 0.8
    out = top_concept_average(local, codes, ratio=0.1)  # keeps 1 concept of 10
    assert torch.equal(out, torch.stack([local[0, 7], local[1, 4]]))
    out = top_concept_average(local, codes, ratio=0.2)  # keeps 2
    assert torch.allclose(out[1], (local[1, 2] + local[1, 4]) / 2)
    with pytest.raises(ValueError, match='expected local features'):
        top_concept_average(local, codes[:, :5])


def test_concept_table_features_ranks_each_half_by_its_own_code():
    ks, kd, m, c = 10, 10, 3, 4
    generator = torch.Generator().manual_seed(0)
    q_v = torch.randn(m, ks + kd, generator=generator)
    f_v = torch.randn(m, ks + kd, c, generator=generator)
    outputs = dict(v=torch.randn(m, 8, generator=generator), q_v=q_v, q_v_s=q_v[:, :ks],
                   q_v_d=q_v[:, ks:], F_v=f_v, F_v_s=f_v[:, :ks], F_v_d=f_v[:, ks:],
                   attn_v=torch.randn(m, ks + kd, 1, 2, 2))
    table = concept_table_features(outputs, top_ratio=0.1)
    assert list(table) == list(TABLE_FEATURES)
    assert table['v'] is outputs['v'] and table['q_v_d'] is outputs['q_v_d']
    for row in range(m):
        top2 = q_v[row].topk(2).indices
        assert torch.allclose(table['F_v'][row], f_v[row, top2].mean(0))
        assert torch.allclose(table['F_v_s'][row], f_v[row, q_v[row, :ks].argmax()])
        assert torch.allclose(table['F_v_d'][row], f_v[row, ks + q_v[row, ks:].argmax()])
    del outputs['F_v_s']
    with pytest.raises(KeyError, match="no 'F_v_s'"):
        concept_table_features(outputs)


def separable_problem(seed, informative=True):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(4, 16, generator=generator) * 3
    train_y = torch.arange(80) % 4
    test_y = torch.arange(40) % 4
    noise = lambda n: torch.randn(n, 16, generator=generator)  # noqa: E731
    if informative:
        return centres[train_y] + noise(80), train_y, centres[test_y] + noise(40), test_y
    return noise(80), train_y, noise(40), test_y


def test_linear_probe_separates_informative_features_and_not_noise():
    result = linear_probe(*separable_problem(0))
    assert result['top1'] == 1.0 and result['train_top1'] == 1.0
    assert result['num_classes'] == 4 and result['num_test'] == 40
    chance = linear_probe(*separable_problem(0, informative=False))
    assert chance['top1'] < 0.6  # 4 classes, pure noise: near 25 %
    assert chance['train_top1'] > chance['top1']  # it fits the training noise
    # one outcome per test row, which agree with the accuracy
    for probe in (result, chance):
        assert len(probe['test_correct']) == 40
        assert all(isinstance(c, bool) for c in probe['test_correct'])
        assert sum(probe['test_correct']) / 40 == pytest.approx(probe['top1'])
    assert not all(chance['test_correct'])


def test_linear_probe_is_deterministic_and_scale_invariant():
    train_x, train_y, test_x, test_y = separable_problem(1, informative=False)
    first = linear_probe(train_x, train_y, test_x, test_y)
    again = linear_probe(train_x.clone(), train_y, test_x.clone(), test_y)
    assert first == again
    # standardisation with the training statistics: a per-channel affine map is invisible
    scale, shift = torch.rand(16) * 10 + 0.1, torch.randn(16) * 100
    moved = linear_probe(train_x * scale + shift, train_y, test_x * scale + shift, test_y)
    assert moved['top1'] == pytest.approx(first['top1'])


def test_linear_probe_rejects_bad_input():
    train_x, train_y, test_x, test_y = separable_problem(2)
    bad = train_x.clone()
    bad[3, 3] = float('inf')
    with pytest.raises(ValueError, match='NaN or Inf'):
        linear_probe(bad, train_y, test_x, test_y)
    with pytest.raises(ValueError, match='do not match'):
        linear_probe(train_x, train_y[:-1], test_x, test_y)
    with pytest.raises(ValueError, match='channels'):
        linear_probe(train_x, train_y, test_x[:, :3], test_y)
    with pytest.raises(ValueError, match='num_classes=2'):
        linear_probe(train_x, train_y, test_x, test_y, num_classes=2)


def test_probe_features_table_over_features_and_label_sets():
    train_x, train_y, test_x, test_y = separable_problem(3)
    noise_train, _, noise_test, _ = separable_problem(4, informative=False)
    results = probe_features(
        dict(good=train_x, noise=noise_train), dict(good=test_x, noise=noise_test),
        dict(action=train_y, parity=train_y % 2), dict(action=test_y, parity=test_y % 2))
    assert list(results) == ['action', 'parity']
    assert list(results['action']) == ['good', 'noise']
    assert results['action']['good'] == 1.0 and results['parity']['good'] == 1.0
    assert results['action']['noise'] < 0.6
    table = format_markdown(results)
    lines = table.splitlines()
    assert lines[0] == '| labels | good | noise |'
    assert lines[2].startswith('| action | 100.0 | ')
    with pytest.raises(KeyError, match='label sets'):
        probe_features(dict(a=train_x), dict(a=test_x), dict(x=train_y), dict(y=test_y))


def test_label_lists_are_matched_by_path(tmp_path):
    ann = tmp_path / 'static.txt'
    ann.write_text('a/v1.mp4 3\na/v2.mp4 0\n\nb/v3.mp4 1\n')
    assert read_video_labels(str(ann)) == {'a/v1.mp4': 3, 'a/v2.mp4': 0, 'b/v3.mp4': 1}
    files = [str(tmp_path / 'videos' / 'b' / 'v3.mp4'), str(tmp_path / 'videos/a/v1.mp4')]
    labels = labels_for_videos(files, str(ann), str(tmp_path / 'videos'))
    assert labels.tolist() == [1, 3]
    with pytest.raises(KeyError, match='does not list 1 of the videos'):
        labels_for_videos(files + ['elsewhere.mp4'], str(ann), str(tmp_path / 'videos'))
    ann.write_text('a/v1.mp4 three\n')
    with pytest.raises(ValueError, match='static.txt:1: label'):
        read_video_labels(str(ann))
