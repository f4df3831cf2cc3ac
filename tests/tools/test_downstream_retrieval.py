"""Video retrieval: the R@k function on a hand-made case and the registered metric."""
import pytest
import torch

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import METRICS
from sdc_mmaction.evaluation.metrics import VideoRetrievalMetric, retrieval_recall


def hand_made_case():
    """Gallery on the axes (mean exactly zero); three queries whose neighbour order is
    easy to read off the cosines (see the comments)."""
    gallery = torch.tensor([[1., 0.], [-1., 0.], [0., 1.], [0., -1.]])
    gallery_labels = torch.tensor([0, 1, 2, 0])
    queries = torch.tensor([
        [2.0, 0.1],    # order: (1,0) l0, (0,1) l2, (0,-1) l0, (-1,0) l1 -> hit at rank 1
        [0.1, 1.0],    # order: (0,1) l2, (1,0) l0, (-1,0) l1, (0,-1) l0 -> hit at rank 3
        [-1.0, -1.2],  # order: (0,-1) l0, (-1,0) l1, (1,0) l0, (0,1) l2 -> hit at rank 4
    ])
    query_labels = torch.tensor([0, 1, 2])
    expected = {'R@1': 1 / 3, 'R@2': 1 / 3, 'R@3': 2 / 3, 'R@4': 1.0}
    return queries, query_labels, gallery, gallery_labels, expected


def test_recall_hand_made_case_exact():
    queries, query_labels, gallery, gallery_labels, expected = hand_made_case()
    result = retrieval_recall(queries, query_labels, gallery, gallery_labels,
                              topk=(1, 2, 3, 4))
    assert list(result) == ['R@1', 'R@2', 'R@3', 'R@4']
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12)


def test_recall_centres_with_the_gallery_mean():
    queries, query_labels, gallery, gallery_labels, expected = hand_made_case()
    shift = torch.tensor([5.0, -3.0])
    shifted = retrieval_recall(queries + shift, query_labels, gallery + shift,
                               gallery_labels, topk=(1, 2, 3, 4))
    assert shifted == pytest.approx(expected)
    # without centring, the shift makes every query point the same way: a different answer
    uncentred = retrieval_recall(queries + shift, query_labels, gallery + shift,
                                 gallery_labels, topk=(1, 2, 3, 4), center=None)
    assert uncentred != pytest.approx(expected)
    # scale invariance: cosine similarity ignores feature norms
    scaled = retrieval_recall(queries * torch.tensor([[10.], [0.1], [3.]]), query_labels,
                              gallery, gallery_labels, topk=(1, 2, 3, 4))
    assert scaled == pytest.approx(expected)


def reference_recall(queries, query_labels, gallery, gallery_labels, topk,
                     exclude_self=False):
    """Straightforward loops: centre by the gallery mean, cosine, sort, look for the class."""
    mean = [sum(col) / len(gallery) for col in zip(*gallery.tolist())]

    def unit(vector):
        centred = [a - m for a, m in zip(vector, mean)]
        norm = sum(a * a for a in centred) ** 0.5
        return [a / norm for a in centred]

    gallery_unit = [unit(g) for g in gallery.tolist()]
    hits = {k: 0 for k in topk}
    for qi, query in enumerate(queries.tolist()):
        q = unit(query)
        scored = [(sum(a * b for a, b in zip(q, g)), gi) for gi, g in enumerate(gallery_unit)
                  if not (exclude_self and gi == qi)]
        order = [gi for _, gi in sorted(scored, key=lambda s: -s[0])]
        for k in topk:
            if any(int(gallery_labels[gi]) == int(query_labels[qi]) for gi in order[:k]):
                hits[k] += 1
    return {f'R@{k}': hits[k] / len(queries) for k in topk}


@pytest.mark.parametrize('exclude_self', [False, True])
def test_recall_matches_reference_on_random_features(exclude_self):
    generator = torch.Generator().manual_seed(0)
    gallery = torch.randn(40, 6, generator=generator) + 2.0
    gallery_labels = torch.randint(0, 5, (40, ), generator=generator)
    if exclude_self:
        queries, query_labels = gallery, gallery_labels
    else:
        queries = torch.randn(25, 6, generator=generator) + 2.0
        query_labels = torch.randint(0, 5, (25, ), generator=generator)
    topk = (1, 5, 10, 20)
    result = retrieval_recall(queries, query_labels, gallery, gallery_labels, topk,
                              exclude_self=exclude_self)
    assert result == pytest.approx(reference_recall(queries, query_labels, gallery,
                                                    gallery_labels, topk, exclude_self))


def test_recall_rejects_bad_input():
    queries, query_labels, gallery, gallery_labels, _ = hand_made_case()
    with pytest.raises(ValueError, match='R@5 needs at least 5 gallery videos'):
        retrieval_recall(queries, query_labels, gallery, gallery_labels, topk=(1, 5))
    with pytest.raises(ValueError, match='R@4 needs at least 4'):
        retrieval_recall(gallery, gallery_labels, gallery, gallery_labels, topk=(4, ),
                         exclude_self=True)
    bad = queries.clone()
    bad[0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        retrieval_recall(bad, query_labels, gallery, gallery_labels, topk=(1, ))
    with pytest.raises(ValueError, match='labels'):
        retrieval_recall(queries, query_labels[:2], gallery, gallery_labels, topk=(1, ))
    with pytest.raises(ValueError, match='channels'):
        retrieval_recall(queries[:, :1], query_labels, gallery, gallery_labels, topk=(1, ))


def _samples(feats, labels, key='v'):
    return [{key: f, 'gt_label': torch.tensor([int(lab)])} for f, lab in zip(feats, labels)]


def test_metric_leave_one_out_matches_function():
    generator = torch.Generator().manual_seed(1)
    feats = torch.randn(12, 4, generator=generator)
    labels = torch.randint(0, 3, (12, ), generator=generator)
    metric = METRICS.build(dict(type='VideoRetrievalMetric', topk=(1, 5)))
    assert isinstance(metric, VideoRetrievalMetric)
    # batches of 5: process is called several times; the second batch gives clip stacks
    metric.process({}, _samples(feats[:5], labels[:5]))
    clips = [torch.stack([f, f]) for f in feats[5:]]  # (num_clips, C), averaged back
    metric.process({}, _samples(clips, labels[5:]))
    result = metric.evaluate(12)
    expected = retrieval_recall(feats, labels, feats, labels, (1, 5), exclude_self=True)
    assert result == pytest.approx({f'retrieval/{k}': v for k, v in expected.items()})


def test_metric_queries_a_gallery_file(tmp_path):
    queries, query_labels, gallery, gallery_labels, expected = hand_made_case()
    gallery_file = tmp_path / 'train_feats.pth'
    torch.save(dict(features=gallery, labels=gallery_labels), gallery_file)
    metric = VideoRetrievalMetric(topk=(1, 2, 3, 4), feature_key='features.v',
                                  gallery=str(gallery_file), prefix='ret')
    metric.process({}, [{'features': {'v': q}, 'gt_label': torch.tensor(int(lab))}
                        for q, lab in zip(queries, query_labels)])
    result = metric.evaluate(3)
    assert result == pytest.approx({f'ret/{k}': v for k, v in expected.items()})


def test_metric_errors_name_the_problem(tmp_path):
    metric = VideoRetrievalMetric(feature_key='pooled')
    with pytest.raises(KeyError, match="no 'pooled'"):
        metric.process({}, _samples(torch.randn(2, 3), [0, 1]))
    metric = VideoRetrievalMetric(gallery=str(tmp_path / 'missing.pth'))
    metric.process({}, _samples(torch.randn(2, 3), [0, 1]))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        metric.evaluate(2)
    with pytest.raises(ValueError, match='topk'):
        VideoRetrievalMetric(topk=(0, 1))


def test_metric_skips_too_large_k_in_leave_one_out():
    metric = VideoRetrievalMetric(topk=(1, 5))
    feats = torch.eye(4)
    metric.process({}, _samples(feats, [0, 0, 1, 1]))
    result = metric.evaluate(4)
    assert set(result) == {'retrieval/R@1'}  # 3 candidates per query: R@5 not reported

