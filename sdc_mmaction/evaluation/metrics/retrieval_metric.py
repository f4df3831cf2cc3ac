"""Video retrieval (nearest-neighbour recall at k), the protocol of VCOP / CoCLR / FAME.

Protocol (Table 2 of the paper): each video is described by the average of its clips'
pooled features; features are centred with the mean of the *gallery* (the training set),
L2-normalised and compared by cosine similarity; every query (a test video) ranks the
gallery, and it counts as a hit at ``k`` when any of its ``k`` nearest neighbours has the
query's class. ``R@k`` is the fraction of hits over all queries.
"""
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmaction.registry import METRICS

DEFAULT_TOPK = (1, 5, 10, 20)


def _check_features(feats: torch.Tensor, labels: torch.Tensor, name: str):
    if not isinstance(feats, torch.Tensor) or feats.dim() != 2:
        raise ValueError(f'{name} features must be a 2-D tensor (num_videos, channels), '
                         f'got {getattr(feats, "shape", type(feats))}')
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1:
        raise ValueError(f'{name} labels must be a 1-D tensor (num_videos,), got '
                         f'{getattr(labels, "shape", type(labels))}')
    if feats.shape[0] != labels.shape[0]:
        raise ValueError(f'{name}: {feats.shape[0]} feature rows but {labels.shape[0]} '
                         'labels')
    if feats.shape[0] == 0:
        raise ValueError(f'{name} set is empty')
    if not torch.isfinite(feats).all():
        raise ValueError(f'{name} features contain NaN or Inf')


def l2_normalize(feats: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale each row to unit L2 norm; (M, C) -> (M, C). Rows of zeros stay zero."""
    return feats / feats.norm(dim=1, keepdim=True).clamp_min(eps)


def retrieval_recall(query_feats: torch.Tensor,
                     query_labels: torch.Tensor,
                     gallery_feats: torch.Tensor,
                     gallery_labels: torch.Tensor,
                     topk: Sequence[int] = DEFAULT_TOPK,
                     center: Union[str, None, torch.Tensor] = 'gallery',
                     exclude_self: bool = False) -> Dict[str, float]:
    """Recall at k of nearest-neighbour retrieval under cosine similarity.

    Args:
        query_feats (Tensor): (Q, C) one feature per query video.
        query_labels (Tensor): (Q,) integer class of each query.
        gallery_feats (Tensor): (G, C) one feature per gallery video.
        gallery_labels (Tensor): (G,) integer class of each gallery video.
        topk (Sequence[int]): the ``k`` values, each in ``1..G`` (``1..G-1`` with
            ``exclude_self``). Defaults to (1, 5, 10, 20).
        center (str | None | Tensor): what to subtract from both sets before normalising:
            ``'gallery'`` the gallery mean (the protocol: the gallery is the training set),
            ``None`` nothing, or a (C,) tensor. Defaults to ``'gallery'``.
        exclude_self (bool): the query set *is* the gallery (same rows, same order);
            each query then never retrieves itself (leave-one-out). Defaults to False.

    Returns:
        dict[str, float]: ``{'R@k': fraction of queries with a same-class video among
        their k nearest gallery videos}``, in [0, 1], in the order of ``topk``.

    Ties in similarity are broken by :func:`torch.topk`'s order (lower index first on
    CPU in practice); real features almost never tie.
    """
    _check_features(query_feats, query_labels, 'query')
    _check_features(gallery_feats, gallery_labels, 'gallery')
    if query_feats.shape[1] != gallery_feats.shape[1]:
        raise ValueError(f'query features have {query_feats.shape[1]} channels, gallery '
                         f'features {gallery_feats.shape[1]}')
    if exclude_self and query_feats.shape[0] != gallery_feats.shape[0]:
        raise ValueError('exclude_self needs the query set to be the gallery set, got '
                         f'{query_feats.shape[0]} queries and {gallery_feats.shape[0]} '
                         'gallery videos')
    topk = tuple(int(k) for k in topk)
    num_candidates = gallery_feats.shape[0] - int(exclude_self)
    for k in topk:
        if not 1 <= k <= num_candidates:
            raise ValueError(f'R@{k} needs at least {k} gallery videos per query, there '
                             f'are {num_candidates}')

    query = query_feats.double()
    gallery = gallery_feats.double()
    if isinstance(center, str):
        if center != 'gallery':
            raise ValueError(f"center must be 'gallery', None or a tensor, got {center!r}")
        mean = gallery.mean(dim=0, keepdim=True)
        query, gallery = query - mean, gallery - mean
    elif isinstance(center, torch.Tensor):
        mean = center.double().reshape(1, -1)
        if mean.shape[1] != query.shape[1]:
            raise ValueError(f'center has {mean.shape[1]} channels, features '
                             f'{query.shape[1]}')
        query, gallery = query - mean, gallery - mean
    elif center is not None:
        raise ValueError(f"center must be 'gallery', None or a tensor, got {center!r}")

    similarity = l2_normalize(query) @ l2_normalize(gallery).t()  # (Q, G)
    if exclude_self:
        similarity.fill_diagonal_(float('-inf'))
    nearest = similarity.topk(max(topk), dim=1).indices  # (Q, max k), most similar first
    hits = gallery_labels.to(query_labels.device)[nearest] == query_labels.view(-1, 1)
    results = OrderedDict()
    for k in topk:
        results[f'R@{k}'] = hits[:, :k].any(dim=1).double().mean().item()
    return results


def _get_by_path(sample: Any, path: str):
    """``sample['a']['b']`` (or attributes) for ``path='a.b'``; KeyError if absent."""
    value = sample
    for part in path.split('.'):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif not isinstance(value, dict) and hasattr(value, part):
            value = getattr(value, part)
        else:
            keys = list(value.keys()) if isinstance(value, dict) else dir(value)
            raise KeyError(f'VideoRetrievalMetric: the model output has no {path!r} '
                           f'(missing {part!r}; available: {keys})')
    return value


def video_feature(value: torch.Tensor) -> torch.Tensor:
    """One video's feature from a model output: (C,) as is, (num_clips, C) averaged."""
    value = torch.as_tensor(value).detach().float().cpu()
    if value.dim() == 2:
        value = value.mean(dim=0)
    if value.dim() != 1:
        raise ValueError('VideoRetrievalMetric: expected one video feature of shape (C,) '
                         f'or (num_clips, C), got shape {tuple(value.shape)}')
    return value


@METRICS.register_module()
class VideoRetrievalMetric(BaseMetric):
    """Nearest-neighbour retrieval recall (R@k) over video features, for val/test loops.

    Two modes:

    - ``gallery=None`` (leave-one-out): every evaluated video queries all the *other*
      evaluated videos; centring uses the mean of the evaluated set. Useful to monitor
      pretraining on a validation list without a second pass over the training set.
      Numbers are not comparable with the paper's Table 2, which queries the training set.
    - ``gallery='feats.pth'``: a file written by ``tools/retrieval.py --save-features`` (or
      any ``torch.save``d dict with ``features`` (G, C) and ``labels`` (G,)) holding the
      training set; evaluated videos query it, centred by its mean: the paper's protocol.

    Args:
        topk (Sequence[int]): the ``k`` of R@k. Defaults to (1, 5, 10, 20).
        feature_key (str): where each model output holds its feature, as a dotted path into
            the predicted data sample (e.g. ``'v'`` or ``'features.v'``). The value is (C,)
            or (num_clips, C), clips are averaged. Defaults to ``'v'``.
        gallery (str, optional): gallery file, see above. Defaults to None.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): metric name prefix. Defaults to ``'retrieval'``.

    Metrics: ``R@k`` for each k, fractions in [0, 1].

    Example, monitoring an SDC pretraining run (``ConceptPretrainRecognizer``'s predict
    mode sets ``v`` on each data sample and averages a video's clips)::

        val_pipeline = [
            dict(type='CheckedDecordInit'),
            dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=10,
                 test_mode=True),
            dict(type='CheckedDecordDecode'),
            dict(type='Resize', scale=(-1, 128)),
            dict(type='CenterCrop', crop_size=112),
            dict(type='FormatShape', input_format='NCTHW'),
            dict(type='PackActionInputs')]
        val_dataloader = dict(batch_size=4, num_workers=4,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              dataset=dict(type='VideoDataset', ann_file=..., test_mode=True,
                                           data_prefix=dict(video=...),
                                           pipeline=val_pipeline))
        val_evaluator = dict(type='VideoRetrievalMetric', topk=(1, 5, 10, 20))
        val_cfg = dict(type='ValLoop')
    """
    default_prefix = 'retrieval'

    def __init__(self,
                 topk: Sequence[int] = DEFAULT_TOPK,
                 feature_key: str = 'v',
                 gallery: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(topk, int):
            topk = (topk, )
        if not topk or any(int(k) < 1 for k in topk):
            raise ValueError(f'VideoRetrievalMetric: topk must be positive ints, got {topk}')
        self.topk = tuple(int(k) for k in topk)
        self.feature_key = feature_key
        self.gallery = gallery
        self._gallery_cache = None

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            feature = video_feature(_get_by_path(sample, self.feature_key))
            label = _get_by_path(sample, 'gt_label')
            label = torch.as_tensor(label).reshape(-1)
            if label.numel() != 1:
                raise ValueError('VideoRetrievalMetric needs one class per video, got '
                                 f'gt_label {label.tolist()}')
            self.results.append((feature, int(label.item())))

    def _load_gallery(self):
        if self._gallery_cache is None:
            if not osp.isfile(self.gallery):
                raise FileNotFoundError(f'VideoRetrievalMetric: gallery file not found: '
                                        f'{self.gallery}')
            data = torch.load(self.gallery, map_location='cpu', weights_only=False)
            if not isinstance(data, dict) or 'features' not in data or 'labels' not in data:
                raise ValueError(f'VideoRetrievalMetric: {self.gallery} must hold a dict '
                                 "with 'features' (G, C) and 'labels' (G,)")
            self._gallery_cache = (torch.as_tensor(data['features']).float(),
                                   torch.as_tensor(data['labels']).long())
        return self._gallery_cache

    def compute_metrics(self, results: List) -> Dict[str, float]:
        feats = torch.stack([feat for feat, _ in results])
        labels = torch.tensor([label for _, label in results], dtype=torch.long)
        if self.gallery is None:
            topk = [k for k in self.topk if k <= len(results) - 1]
            skipped = [k for k in self.topk if k not in topk]
            if skipped:
                MMLogger.get_current_instance().warning(
                    f'VideoRetrievalMetric: only {len(results)} videos were evaluated, '
                    f'too few for R@{skipped} in leave-one-out mode; not reported')
            if not topk:
                raise ValueError(f'VideoRetrievalMetric: {len(results)} evaluated videos '
                                 f'are too few for any of R@{list(self.topk)}')
            return retrieval_recall(feats, labels, feats, labels, topk,
                                    center='gallery', exclude_self=True)
        gallery_feats, gallery_labels = self._load_gallery()
        return retrieval_recall(feats, labels, gallery_feats, gallery_labels, self.topk,
                                center='gallery')
