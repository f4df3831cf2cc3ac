"""Video retrieval (Table 2 of the paper) behind ``tools/retrieval.py``.

Features of ``num_clips`` uniformly spaced centre-cropped clips per video are averaged
(:mod:`sdc_mmaction.apis.feature_extraction`); test videos query the training videos with
:func:`sdc_mmaction.evaluation.metrics.retrieval_recall` (training-set mean centring, L2
normalisation, cosine similarity, R@k).
"""
from typing import Dict, Optional, Sequence

import torch

from ..evaluation.metrics.retrieval_metric import DEFAULT_TOPK, retrieval_recall
from .feature_extraction import (build_model, build_video_dataloader,
                                 extract_video_features, feature_pipeline)


def video_retrieval(config: str,
                    checkpoint: Optional[str],
                    train_ann: str,
                    test_ann: str,
                    data_prefix: str,
                    test_data_prefix: Optional[str] = None,
                    clip_len: int = 16,
                    frame_interval: int = 1,
                    num_clips: int = 10,
                    resize: Optional[int] = 128,
                    crop_size: int = 112,
                    topk: Sequence[int] = DEFAULT_TOPK,
                    feature_key: str = 'v',
                    batch_size: int = 4,
                    num_workers: int = 0,
                    save_features: Optional[str] = None,
                    cfg_options: Optional[dict] = None,
                    device: str = 'cpu',
                    progress: bool = True) -> Dict[str, float]:
    """Extract train and test features with ``config`` + ``checkpoint``; return R@k.

    Args:
        config (str): a config whose ``model`` is an SDC pretraining model or any
            recognizer with a backbone (e.g. a downstream config).
        checkpoint (str | None): SDC pretraining checkpoint, converted backbone or other
            checkpoint (see :func:`~sdc_mmaction.apis.feature_extraction.build_model`);
            None keeps a random initialisation.
        train_ann, test_ann (str): MMAction2 video lists (gallery and queries).
        data_prefix (str): video folder of the lists; ``test_data_prefix`` overrides it for
            the test list.
        clip_len, frame_interval, num_clips, resize, crop_size: clip sampling (see
            :func:`~sdc_mmaction.apis.feature_extraction.feature_pipeline`).
        topk (Sequence[int]): the ``k`` of R@k, each from 1 to the number of videos in
            ``train_ann`` (the gallery; checked before any feature is extracted, see
            :func:`check_topk`). Defaults to (1, 5, 10, 20).
        feature_key (str): which model output to use. Defaults to ``'v'``.
        save_features (str, optional): also ``torch.save`` the training features as
            ``dict(features, labels, filenames)`` here: the ``gallery`` file of
            ``VideoRetrievalMetric``.

    Returns:
        dict[str, float]: ``{'R@k': recall in [0, 1]}``.
    """
    pipeline = feature_pipeline(clip_len, frame_interval, num_clips, resize, crop_size)
    loaders = {}
    for split, ann, prefix in (('train', train_ann, data_prefix),
                               ('test', test_ann, test_data_prefix or data_prefix)):
        loaders[split] = build_video_dataloader(ann, prefix, pipeline, batch_size,
                                                num_workers)
    check_topk(topk, len(loaders['train'].dataset), train_ann)
    model, _ = build_model(config, checkpoint, cfg_options=cfg_options, device=device)
    sets = {}
    for split, loader in loaders.items():
        feats, labels, files = extract_video_features(
            model, loader, names=[feature_key], progress=progress, desc=f'{split} features')
        sets[split] = (feats[feature_key], labels, files)
    if save_features:
        feats, labels, files = sets['train']
        torch.save(dict(features=feats, labels=labels, filenames=files), save_features)
    train_feats, train_labels, _ = sets['train']
    test_feats, test_labels, _ = sets['test']
    return retrieval_recall(test_feats, test_labels, train_feats, train_labels, topk,
                            center='gallery')


def check_topk(topk: Sequence[int], num_gallery: int, gallery_ann: str) -> None:
    """Raise ``ValueError`` unless every ``k`` of ``topk`` is in ``1 .. num_gallery``.

    R@k looks for a same-class video among a query's k nearest gallery videos, so k cannot
    exceed the gallery. The message names the list, its size and the ``--topk`` of
    ``tools/retrieval.py`` that works with it: the requested values that fit, or
    ``1`` and the gallery size when none does.
    """
    topk = [int(k) for k in topk]
    bad = [k for k in topk if not 1 <= k <= num_gallery]
    if not bad:
        return
    fitting = sorted({k for k in topk if 1 <= k <= num_gallery}) or sorted({1, num_gallery})
    raise ValueError(
        f'topk {topk}: R@k needs 1 <= k <= the number of gallery videos, and the gallery '
        f'list {gallery_ann} has {num_gallery} (k = {", ".join(map(str, bad))} does not '
        f'fit); use k <= {num_gallery}, e.g. tools/retrieval.py '
        f'--topk {" ".join(map(str, fitting))}')


def format_recall(results: Dict[str, float]) -> str:
    """A one-row markdown table of R@k in percent."""
    header = '| ' + ' | '.join(results) + ' |'
    rule = '|' + '---|' * len(results)
    row = '| ' + ' | '.join(f'{100 * v:.1f}' for v in results.values()) + ' |'
    return '\n'.join([header, rule, row])


__all__ = ['video_retrieval', 'check_topk', 'format_recall']
