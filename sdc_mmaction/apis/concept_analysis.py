"""Concept analysis (Table 3 of the paper): linear probes on SDC's features.

For every video, the SDC pretraining model gives (names of
``ConceptPretrainRecognizer.features``, paper symbols in brackets):

- ``v`` (v): the pooled clip feature, the usual linear-probe input;
- ``q_v`` (q_v), ``q_v_s`` (q_v^s), ``q_v_d`` (q_v^d): the clip's concept codes, all of
  them / the static half / the dynamic half;
- ``F_v`` (F_v), ``F_v_s`` (F_v^s), ``F_v_d`` (F_v^d): the clip's local concept features,
  reduced to one vector: keep the concepts with the top ``top_ratio`` (10 %) codes and
  average their local features. ``F_v`` ranks all concepts by ``q_v``; ``F_v_s`` ranks
  the static concepts by ``q_v^s`` and ``F_v_d`` the dynamic ones by ``q_v^d`` (the paper
  only states the rule for ``F_v``; ranking each half by its own code is our reading).
  With Ks = Kd = 50 this keeps 10 concepts for ``F_v`` and 5 (the paper's K) per half.

The reduction is applied per clip, then clips are averaged per video. A linear classifier
(multinomial logistic regression) is fitted on the frozen training features and scored on
the validation features, for each feature and each label set.

The functions take any dict of features and any label sets, so they also serve other
comparisons (e.g. a random backbone against SDC on static / dynamic / action labels).
"""
import json
import math
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .feature_extraction import (build_model, build_video_dataloader,
                                 extract_video_features, feature_pipeline)

#: Table 3's features, in its column order
TABLE_FEATURES = ('v', 'q_v', 'q_v_s', 'q_v_d', 'F_v', 'F_v_s', 'F_v_d')
#: output name -> the paper's symbol
PAPER_SYMBOLS = OrderedDict(v='v', q_v='q_v', q_v_s='q_v^s', q_v_d='q_v^d', F_v='F_v',
                            F_v_s='F_v^s', F_v_d='F_v^d')
#: features of the static frame and the frame difference that an analysis of clips gets
#: from views derived from each clip (``ConceptDataPreprocessor.views_from_clip``)
DERIVED_VIEW_FEATURES = ('s', 'q_s', 'F_s', 'd', 'q_d', 'F_d')
#: the concept distributions that Eq. 4 predicts from the clip's two halves,
#: softmax(q_v^s / tau) and softmax(q_v^d / tau) (``ConceptPretrainRecognizer.features``)
DISTRIBUTION_FEATURES = ('p_v_s', 'p_v_d')
#: every feature an analysis can probe: Table 3's, the distributions, the derived views'
ANALYSIS_FEATURES = TABLE_FEATURES + DISTRIBUTION_FEATURES + DERIVED_VIEW_FEATURES
#: below this many (samples x channels x classes), linear probes run on one thread
_SMALL_PROBLEM = 2_000_000
#: local features and the codes that rank their concepts
_LOCAL_RANKED_BY = OrderedDict(F_v='q_v', F_v_s='q_v_s', F_v_d='q_v_d')


def num_top_concepts(num_concepts: int, ratio: float) -> int:
    """``ceil(ratio * num_concepts)``, at least 1 (10 % of 100 -> 10, of 8 -> 1)."""
    if not 0 < ratio <= 1:
        raise ValueError(f'top_ratio must be in (0, 1], got {ratio!r}')
    return max(1, math.ceil(round(ratio * num_concepts, 6)))


def top_concept_average(local_features: Tensor, codes: Tensor, ratio: float = 0.1) -> Tensor:
    """Average the local features of each sample's top-``ratio`` concepts.

    Args:
        local_features (Tensor): (M, K, C) one feature per concept.
        codes (Tensor): (M, K) the codes that rank the concepts (higher = kept).
        ratio (float): fraction of concepts kept (see :func:`num_top_concepts`).

    Returns:
        Tensor: (M, C).
    """
    if local_features.dim() != 3 or codes.dim() != 2 or \
            local_features.shape[:2] != codes.shape:
        raise ValueError(f'expected local features (M, K, C) and codes (M, K), got '
                         f'{tuple(local_features.shape)} and {tuple(codes.shape)}')
    keep = num_top_concepts(codes.shape[1], ratio)
    index = codes.topk(keep, dim=1).indices  # (M, keep)
    chosen = local_features.gather(
        1, index.unsqueeze(-1).expand(-1, -1, local_features.shape[2]))
    return chosen.mean(dim=1)


def concept_table_features(outputs: Mapping[str, Tensor],
                           top_ratio: float = 0.1,
                           names: Sequence[str] = TABLE_FEATURES) -> Dict[str, Tensor]:
    """Turn ``ConceptPretrainRecognizer.features`` outputs into (M, D) vectors.

    Args:
        outputs (Mapping[str, Tensor]): per-clip model outputs.
        top_ratio (float): fraction of concepts kept for ``F_*``. Defaults to 0.1.
        names (Sequence[str]): which of :data:`ANALYSIS_FEATURES` to compute (the
            derived views' names need outputs computed from derived views).

    Returns:
        dict[str, Tensor]: name -> (M, D).
    """
    out = OrderedDict()
    for name in names:
        if name in _LOCAL_RANKED_BY:
            code_name = _LOCAL_RANKED_BY[name]
            for needed in (name, code_name):
                if needed not in outputs:
                    raise KeyError(f'the model gives no {needed!r} (needed for {name}); '
                                   f'it gives {sorted(outputs)}. A model without a local '
                                   'head has no F features.')
            out[name] = top_concept_average(outputs[name], outputs[code_name], top_ratio)
        else:
            if name not in outputs:
                raise KeyError(f'the model gives no {name!r}; it gives {sorted(outputs)}')
            if outputs[name].dim() != 2:
                raise ValueError(f'{name!r} has shape {tuple(outputs[name].shape)}; '
                                 'expected (M, D)')
            out[name] = outputs[name]
    return out


def linear_probe(train_feats: Tensor,
                 train_labels: Tensor,
                 test_feats: Tensor,
                 test_labels: Tensor,
                 weight_decay: float = 1e-3,
                 max_iter: int = 300,
                 num_classes: Optional[int] = None) -> Dict[str, float]:
    """Fit a linear classifier on frozen features, report top-1 accuracy.

    Features are standardised with the training mean and standard deviation; the
    classifier is multinomial logistic regression, ``mean cross-entropy + weight_decay /
    2 * ||W||^2`` (bias not penalised), fitted full-batch by L-BFGS (strong-Wolfe line
    search) from zero weights in float64. The problem is convex and the start fixed, so
    the result is deterministic (no seed involved).

    Args:
        train_feats (Tensor): (N, D). train_labels (Tensor): (N,) ints in [0, classes).
        test_feats (Tensor): (M, D). test_labels (Tensor): (M,).
        weight_decay (float): L2 penalty. Defaults to 1e-3.
        max_iter (int): L-BFGS iterations. Defaults to 300.
        num_classes (int, optional): defaults to 1 + the largest label seen.

    Returns:
        dict: ``top1`` (test accuracy), ``train_top1``, ``num_train``, ``num_test``,
        ``num_classes``; accuracies in [0, 1]. ``test_correct``: one bool per test row,
        whether it was classified right (for paired comparisons of two models).
    """
    for name, feats, labels in (('train', train_feats, train_labels),
                                ('test', test_feats, test_labels)):
        if feats.dim() != 2 or labels.dim() != 1 or feats.shape[0] != labels.shape[0]:
            raise ValueError(f'linear_probe: {name} features {tuple(feats.shape)} and '
                             f'labels {tuple(labels.shape)} do not match as (N, D), (N,)')
        if feats.shape[0] == 0:
            raise ValueError(f'linear_probe: the {name} set is empty')
        if not torch.isfinite(feats).all():
            raise ValueError(f'linear_probe: {name} features contain NaN or Inf')
        if labels.min() < 0:
            raise ValueError(f'linear_probe: negative {name} label {int(labels.min())}')
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'linear_probe: train features have {train_feats.shape[1]} '
                         f'channels, test features {test_feats.shape[1]}')
    seen = int(max(train_labels.max(), test_labels.max())) + 1
    if num_classes is None:
        num_classes = seen
    elif num_classes < seen:
        raise ValueError(f'linear_probe: num_classes={num_classes} but label {seen - 1} '
                         'occurs')

    # Small problems are dominated by per-operation thread synchronisation (20x slower
    # with two threads than with one on a busy 2-core machine): run them single-threaded.
    threads = torch.get_num_threads()
    if train_feats.numel() * num_classes < _SMALL_PROBLEM:
        torch.set_num_threads(1)
    try:
        return _fit_linear_probe(train_feats, train_labels, test_feats, test_labels,
                                 weight_decay, max_iter, num_classes)
    finally:
        torch.set_num_threads(threads)


def _fit_linear_probe(train_feats, train_labels, test_feats, test_labels, weight_decay,
                      max_iter, num_classes) -> Dict[str, float]:
    x_train = train_feats.double()
    mean = x_train.mean(dim=0, keepdim=True)
    std = x_train.std(dim=0, unbiased=False, keepdim=True).clamp_min(1e-6)
    x_train = (x_train - mean) / std
    x_test = (test_feats.double() - mean) / std
    y_train = train_labels.long()

    weight = torch.zeros(x_train.shape[1], num_classes, dtype=torch.float64,
                         requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter,
                                  history_size=20, line_search_fn='strong_wolfe',
                                  tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        optimizer.zero_grad()
        logits = x_train @ weight + bias
        loss = torch.nn.functional.cross_entropy(logits, y_train) + \
            0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        train_pred = (x_train @ weight + bias).argmax(dim=1)
        test_pred = (x_test @ weight + bias).argmax(dim=1)
    test_correct = test_pred == test_labels.long()
    return dict(top1=test_correct.double().mean().item(),
                train_top1=(train_pred == y_train).double().mean().item(),
                num_train=int(x_train.shape[0]), num_test=int(x_test.shape[0]),
                num_classes=int(num_classes), test_correct=test_correct.tolist())


def probe_features(train_features: Mapping[str, Tensor],
                   test_features: Mapping[str, Tensor],
                   train_labels: Mapping[str, Tensor],
                   test_labels: Mapping[str, Tensor],
                   outcomes: Optional[dict] = None,
                   **probe_kwargs) -> 'OrderedDict[str, OrderedDict[str, float]]':
    """Linear-probe top-1 accuracy of every feature for every label set.

    Args:
        train_features / test_features: feature name -> (N, D) / (M, D), same names.
        train_labels / test_labels: label-set name -> (N,) / (M,), same names, rows in
            the order of the features.
        outcomes (dict, optional): filled with ``outcomes[label_set][feature]`` = one
            bool per test row (classified right or not), for paired comparisons.
        **probe_kwargs: passed to :func:`linear_probe`.

    Returns:
        ``results[label_set][feature]`` = test top-1 accuracy in [0, 1].
    """
    if set(train_features) != set(test_features):
        raise KeyError(f'train features {sorted(train_features)} and test features '
                       f'{sorted(test_features)} differ')
    if set(train_labels) != set(test_labels):
        raise KeyError(f'train label sets {sorted(train_labels)} and test label sets '
                       f'{sorted(test_labels)} differ')
    results = OrderedDict()
    for label_name in train_labels:
        row = OrderedDict()
        for feature_name in train_features:
            probe = linear_probe(
                train_features[feature_name], train_labels[label_name],
                test_features[feature_name], test_labels[label_name], **probe_kwargs)
            row[feature_name] = probe['top1']
            if outcomes is not None:
                outcomes.setdefault(label_name, OrderedDict())[feature_name] = \
                    probe['test_correct']
        results[label_name] = row
    return results


def format_markdown(results: Mapping[str, Mapping[str, float]],
                    symbols: Mapping[str, str] = PAPER_SYMBOLS) -> str:
    """Markdown table: one row per label set, one column per feature, top-1 in %."""
    features = list(next(iter(results.values())))
    header = '| labels | ' + ' | '.join(symbols.get(f, f) for f in features) + ' |'
    rule = '|---|' + '---|' * len(features)
    rows = [f'| {label} | ' + ' | '.join(f'{100 * row[f]:.1f}' for f in features) + ' |'
            for label, row in results.items()]
    return '\n'.join([header, rule] + rows)


def read_video_labels(ann_file: str) -> 'OrderedDict[str, int]':
    """``path label`` lines of an MMAction2 video list -> ``{path: label}``."""
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    labels = OrderedDict()
    with open(ann_file) as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValueError(f'{ann_file}:{number}: expected "path label", got '
                                 f'{line.strip()!r}')
            try:
                labels[parts[0]] = int(parts[1])
            except ValueError:
                raise ValueError(f'{ann_file}:{number}: label {parts[1]!r} is not an '
                                 'integer') from None
    return labels


def labels_for_videos(filenames: Sequence[str], ann_file: str, data_prefix: str) -> Tensor:
    """Labels of ``filenames`` (full paths, as the data samples carry them) from another
    video list over the same videos, e.g. static labels for videos loaded from the action
    list. Every video must be listed."""
    if any(not f for f in filenames):
        raise ValueError('labels_for_videos: the videos have no file names (pack them with '
                         "PackActionInputs(meta_keys=(..., 'filename')))")
    by_path = {osp.normpath(osp.join(data_prefix, path)): label
               for path, label in read_video_labels(ann_file).items()}
    missing = [f for f in filenames if osp.normpath(f) not in by_path]
    if missing:
        raise KeyError(f'{ann_file} does not list {len(missing)} of the videos, e.g. '
                       f'{missing[:3]}')
    return torch.tensor([by_path[osp.normpath(f)] for f in filenames], dtype=torch.long)


def extract_concept_features(model: torch.nn.Module,
                             ann_file: str,
                             data_prefix: str,
                             features: Sequence[str] = TABLE_FEATURES,
                             top_ratio: float = 0.1,
                             clip_len: int = 16,
                             frame_interval: int = 1,
                             num_clips: int = 1,
                             resize: Optional[int] = 128,
                             crop_size: int = 112,
                             batch_size: int = 4,
                             num_workers: int = 0,
                             progress: bool = True,
                             desc: str = 'features',
                             derive_views: Optional[bool] = None
                             ) -> Tuple[Dict[str, Tensor], Tensor, List[str]]:
    """The Table 3 features of every video of a list, with a progress bar.

    Args:
        model: an SDC pretraining model (e.g. from
            :func:`~sdc_mmaction.apis.feature_extraction.build_model`); with
            ``features=('v',)`` any recognizer with a backbone works.
        ann_file (str): MMAction2 video list. data_prefix (str): its video folder.
        features, top_ratio: see :func:`concept_table_features`. Names of
            :data:`DERIVED_VIEW_FEATURES` (the static frame's and the frame difference's
            own features and codes) are computed from views derived from each clip.
        clip_len, frame_interval, num_clips, resize, crop_size: clip sampling.
        derive_views (bool, optional): pass the static frame and the frame difference
            derived from each clip to the model (see
            :func:`~sdc_mmaction.apis.feature_extraction.clip_features`). Default: where
            a name of ``features`` is one of :data:`DERIVED_VIEW_FEATURES`.

    Returns:
        (features, labels, filenames): name -> (num_videos, D), (num_videos,), paths.
    """
    pipeline = feature_pipeline(clip_len, frame_interval, num_clips, resize, crop_size)
    loader = build_video_dataloader(ann_file, data_prefix, pipeline, batch_size,
                                    num_workers)

    def transform(outputs):
        return concept_table_features(outputs, top_ratio, features)

    if derive_views is None:
        derive_views = any(name in DERIVED_VIEW_FEATURES for name in features)
    return extract_video_features(model, loader, clip_transform=transform,
                                  progress=progress, desc=desc, derive_views=derive_views)


def concept_analysis(config: str,
                     checkpoint: Optional[str],
                     train_ann: str,
                     val_ann: str,
                     data_prefix: str,
                     val_data_prefix: Optional[str] = None,
                     label_name: str = 'label',
                     extra_label_sets: Optional[Mapping[str, Tuple[str, str]]] = None,
                     features: Sequence[str] = TABLE_FEATURES,
                     top_ratio: float = 0.1,
                     clip_len: int = 16,
                     frame_interval: int = 1,
                     num_clips: int = 1,
                     resize: Optional[int] = 128,
                     crop_size: int = 112,
                     batch_size: int = 4,
                     num_workers: int = 0,
                     weight_decay: float = 1e-3,
                     max_iter: int = 300,
                     cfg_options: Optional[dict] = None,
                     device: str = 'cpu',
                     progress: bool = True,
                     out_json: Optional[str] = None,
                     out_markdown: Optional[str] = None) -> Dict:
    """Table 3 for one checkpoint: extract the features, probe them, write the table.

    Args:
        config (str): the SDC pretraining config.
        checkpoint (str | None): its pretraining checkpoint (the whole model is needed:
            the codes and local features come from the concept heads); None = random
            weights, a baseline.
        train_ann, val_ann (str): MMAction2 video lists; their labels are the label set
            ``label_name``.
        data_prefix (str): the lists' video folder (``val_data_prefix`` for the val list).
        extra_label_sets (dict, optional): more label sets over the same videos,
            ``name -> (train list, val list)``, matched by video path.
        features (Sequence[str]): columns, from :data:`ANALYSIS_FEATURES` (default:
            Table 3's).
        top_ratio (float): concepts kept for ``F_*``. Defaults to 0.1.
        clip_len, frame_interval, num_clips, resize, crop_size: clip sampling (one centre
            clip per video by default).
        weight_decay, max_iter: see :func:`linear_probe`.
        out_json, out_markdown (str, optional): where to write the results.

    Returns:
        dict: ``results`` (label set -> feature -> top-1 in [0, 1]), ``markdown``,
        ``settings``.
    """
    model, loaded = build_model(config, checkpoint, cfg_options=cfg_options, device=device)
    if loaded == 'backbone':
        raise ValueError(f'{checkpoint} holds only a backbone; the concept analysis needs '
                         'an SDC pretraining checkpoint with its concept heads')
    extracted = {}
    for split, ann, prefix in (('train', train_ann, data_prefix),
                               ('val', val_ann, val_data_prefix or data_prefix)):
        feats, labels, files = extract_concept_features(
            model, ann, prefix, features=features, top_ratio=top_ratio, clip_len=clip_len,
            frame_interval=frame_interval, num_clips=num_clips, resize=resize,
            crop_size=crop_size, batch_size=batch_size, num_workers=num_workers,
            progress=progress, desc=f'{split} features')
        label_sets = OrderedDict([(label_name, labels)])
        for name, lists in (extra_label_sets or {}).items():
            label_sets[name] = labels_for_videos(files, lists[0 if split == 'train' else 1],
                                                 prefix)
        extracted[split] = (feats, label_sets)

    results = probe_features(extracted['train'][0], extracted['val'][0],
                             extracted['train'][1], extracted['val'][1],
                             weight_decay=weight_decay, max_iter=max_iter)
    markdown = format_markdown(results)
    settings = dict(config=config, checkpoint=checkpoint, train_ann=train_ann,
                    val_ann=val_ann, top_ratio=top_ratio, clip_len=clip_len,
                    frame_interval=frame_interval, num_clips=num_clips, resize=resize,
                    crop_size=crop_size, weight_decay=weight_decay, max_iter=max_iter,
                    num_train=len(extracted['train'][1][label_name]),
                    num_val=len(extracted['val'][1][label_name]))
    report = dict(results=results, markdown=markdown, settings=settings)
    if out_json:
        _write(out_json, json.dumps(dict(results=results, settings=settings), indent=2))
    if out_markdown:
        _write(out_markdown, markdown + '\n')
    return report


def _write(path: str, text: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)


__all__ = [
    'TABLE_FEATURES', 'DERIVED_VIEW_FEATURES', 'DISTRIBUTION_FEATURES',
    'ANALYSIS_FEATURES', 'PAPER_SYMBOLS', 'num_top_concepts',
    'top_concept_average',
    'concept_table_features', 'extract_concept_features', 'linear_probe', 'probe_features',
    'format_markdown', 'read_video_labels', 'labels_for_videos', 'concept_analysis'
]
