"""Compare self-supervised methods on the generated static/dynamic dataset: which factor
do their features keep? ``tools/compare_methods.py`` is its CLI.

For every dataset (the quick start's data, and the same with the scene's colour drawn per
video so that only the texture tells the scenes apart), every method and every seed:

1. pretrain with the same data, clip sampling, backbone width, batch size and number of
   iterations (the quick start's :func:`~sdc_mmaction.apis.quickstart.pretrain`; a method
   without training is skipped here);
2. extract the features of every video with one extractor (the quick start's
   :func:`~sdc_mmaction.apis.quickstart.extract_all`: clips sampled as in pretraining,
   averaged per video);
3. linear probes of ``v`` and of the method's decoupled features on the action, scene,
   motion and motion-only labels, and retrieval R@1/5 of ``v`` (val videos query the
   training videos).

Each finished run leaves ``result.json`` and a ``done`` marker in its folder, so an
interrupted comparison goes on where it stopped. The summary gives the mean and sample
standard deviation over seeds per cell, and paired sign tests over the val videos with
the outcomes of all seeds pooled (seed ``s`` of one method against seed ``s`` of the
other): every method against the random model, and SDC against every other method.

A method is one :class:`Method` entry in :data:`METHODS`, added with
:func:`register_method` in this module (worker processes import it afresh): its training
config, the features to probe and, where the quick start's extractor does not fit its
model, an extractor of its own.
"""
import json
import math
import os
import os.path as osp
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .method_features import (extract_on_quickstart_clips, extract_view_encoders,
                              prepare_optical_flow)
from .quickstart import (PRESETS, PRETRAIN_CONFIG, REPO_ROOT, extract_all, prepare_dataset,
                         pretrain, trained_config)

SUPERVISED_CONFIG = osp.join(REPO_ROOT, 'configs', 'supervised',
                             'supervised_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py')
TWO_TOWER_CONFIG = osp.join(REPO_ROOT, 'projects', 'cpu_scale_study', 'configs',
                            'sdc-two-tower_r2plus1d-tiny_synthetic.py')
DCLR_CONFIG = osp.join(REPO_ROOT, 'configs', 'dclr',
                       'dclr_r2plus1d-tiny_1xb4-8x2x2-8e_synthetic-rgb.py')
COCON_DIFF_CONFIG = osp.join(REPO_ROOT, 'configs', 'cocon',
                             'cocon_r18-2d3d-tiny_1xb4-8x2x1-8e_synthetic-rgb-diff.py')
COCON_FLOW_CONFIG = osp.join(REPO_ROOT, 'configs', 'cocon',
                             'cocon_r18-2d3d-tiny_1xb4-8x2x1-8e_synthetic-rgb-flow.py')

#: label sets probed: name -> (variant of the generated dataset, what the table calls it)
LABEL_SETS = OrderedDict(action=('scenes', 'action'), static=('scenes', 'scene'),
                         dynamic=('scenes', 'motion'),
                         motion=('motion_only', 'motion, one scene'))
#: retrieval of ``v``: recall at these k
RETRIEVAL_TOPK = (1, 5)
#: the datasets compared: name -> generator options over the preset's
DATASETS = OrderedDict(default=dict(),
                       per_video_colour=dict(scene_colour='per_video'))
#: what each dataset is, for the tables
DATASET_NOTES = OrderedDict(
    default="the quick start's data: each scene has its own hue and texture family",
    per_video_colour="the scene's hue drawn per video, so that only the texture family "
    'tells the scenes apart (a mean colour reads the scene at about chance)')
#: the concept features of SDC-style models: q_v^s, q_v^d, F_v^s, F_v^d
CONCEPT_FEATURES = ('q_v_s', 'q_v_d', 'F_v_s', 'F_v_d')
#: marker of a finished run (written after its result.json)
DONE_MARKER = 'done'
SETTINGS_FILE = 'compare_settings.json'


def extract_with_quickstart(checkpoint: Optional[str], config: str, data_root: str,
                            meta: Mapping, num_clips: int, features: Sequence[str],
                            seed: int, desc: str) -> dict:
    """The shared extractor: :func:`~sdc_mmaction.apis.quickstart.extract_all` on a model
    built from ``config`` (``checkpoint`` loaded whole, or its backbone only, or None for
    random weights drawn with ``seed``). Returns ``(variant, split) -> (features,
    labels)``."""
    extracted = extract_all(checkpoint, data_root, meta, num_clips, desc, config,
                            features=features, init_seed=seed)
    extracted.pop('model')
    return extracted


@dataclass(frozen=True)
class Method:
    """One method of the comparison.

    Args:
        name (str): its key (folder names, ``--methods``).
        title (str): its name in the tables.
        train_config (str | None): the config ``tools/train.py`` trains it with (under the
            preset's schedule and batch size); None: no training (random weights).
        features (tuple[str]): the features probed, ``v`` first (the others: the
            method's decoupled features, names that its extractor returns).
        extract_config (str | None): the config whose model extracts the features;
            None: the config the training dumped (the model that was trained). A
            checkpoint of another model is loaded into its backbone.
        extractor (callable): ``(checkpoint, config, data_root, meta, num_clips,
            features, seed, desc) -> {(variant, split): (features, labels)}``.
        note (str): one line for the tables (e.g. a wider ``v``).
        prepare (callable, optional): ``(data_root, workers) -> None``, run once per
            dataset before any run, in the main process (e.g. the optical flow of a flow
            view); it must skip what is already done.
    """
    name: str
    title: str
    train_config: Optional[str]
    features: Tuple[str, ...] = ('v', )
    extract_config: Optional[str] = None
    extractor: Callable = field(default=extract_with_quickstart, compare=False)
    note: str = ''
    prepare: Optional[Callable] = field(default=None, compare=False)

    def __post_init__(self):
        if not self.features or self.features[0] != 'v':
            raise ValueError(f'method {self.name!r}: features must start with v, got '
                             f'{self.features!r}')
        if self.train_config is None and self.extract_config is None:
            raise ValueError(f'method {self.name!r}: without training it needs an '
                             'extract_config (the model whose random weights are probed)')


#: the methods, in table order (each added with :func:`register_method`)
METHODS: 'OrderedDict[str, Method]' = OrderedDict()


def register_method(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS` (a name already there is an error)."""
    if method.name in METHODS:
        raise ValueError(f'a method named {method.name!r} is already registered')
    METHODS[method.name] = method
    return method


register_method(Method(
    'random', 'random init', None, extract_config=PRETRAIN_CONFIG,
    note='the SDC model with random weights (drawn with the seed), no training'))
register_method(Method(
    'supervised', 'supervised (action label)', SUPERVISED_CONFIG,
    extract_config=PRETRAIN_CONFIG,
    note='the same backbone trained on the action label: an upper bound'))
register_method(Method(
    'sdc', 'SDC', PRETRAIN_CONFIG, features=('v', ) + CONCEPT_FEATURES,
    note="the paper's objective"))
register_method(Method(
    'sdc_two_tower', 'SDC two-tower (study)', TWO_TOWER_CONFIG,
    features=('v', ) + CONCEPT_FEATURES,
    note='one backbone per half of Eq. 4 (projects/cpu_scale_study); v is both towers '
    'side by side, twice as wide'))
register_method(Method(
    'dclr', 'DCLR', DCLR_CONFIG, features=('v', 'z_vs', 'z_vd'),
    extractor=extract_on_quickstart_clips,
    note="its own augmentations and two clips per video; z_vs / z_vd: the clip's static "
    'and dynamic projections (the pooling weighted by the static frame\'s and the frame '
    'difference\'s activation maps)'))
register_method(Method(
    'cocon_diff', 'CoCon, RGB + frame difference', COCON_DIFF_CONFIG, features=('v', 'd'),
    extractor=extract_view_encoders,
    note='ResNet18-2d3d encoders, one per view (its own backbone, as in CoCon); v: the RGB '
    "encoder, d: the frame-difference encoder on the clip's differences"))
register_method(Method(
    'cocon_flow', 'CoCon, RGB + flow', COCON_FLOW_CONFIG, features=('v', 'flow'),
    extractor=extract_view_encoders, prepare=prepare_optical_flow,
    note='as above with optical flow (Farneback, extracted once per dataset into '
    'rawframes) as the second view; flow: the flow encoder on the flow of the same clips'))
register_method(Method(
    'cocon_diff_random', 'CoCon encoders, random init (RGB + difference)', None,
    features=('v', 'd'), extract_config=COCON_DIFF_CONFIG, extractor=extract_view_encoders,
    note="CoCon's encoders with random weights (drawn with the seed), no training: what "
    'the frame differences alone give d'))
register_method(Method(
    'cocon_flow_random', 'CoCon encoders, random init (RGB + flow)', None,
    features=('v', 'flow'), extract_config=COCON_FLOW_CONFIG,
    extractor=extract_view_encoders, prepare=prepare_optical_flow,
    note="the same with the flow encoder: what the flow alone gives"))


def _log(message: str) -> None:
    print(f'[compare] {message}', flush=True)


def mean_sd(values: Sequence[float]) -> dict:
    """``dict(mean, sd, n)`` of ``values``: ``sd`` is the sample standard deviation
    (divisor n - 1), None for a single value, where it is not defined."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError('mean_sd: no values')
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ValueError(f'mean_sd: values must be finite, got {bad[0]!r}')
    n = len(values)
    mean = sum(values) / n
    sd = None if n == 1 else math.sqrt(sum((v - mean)**2 for v in values) / (n - 1))
    return dict(mean=mean, sd=sd, n=n)


def pooled_sign_test(outcomes_a: Mapping[int, Sequence[bool]],
                     outcomes_b: Mapping[int, Sequence[bool]]) -> dict:
    """One-sided paired sign test that A is right more often than B, over the val videos
    of every seed both have, pooled (seed ``s`` of A paired with seed ``s`` of B, the
    same videos in the same order).

    Args:
        outcomes_a / outcomes_b: seed -> one bool per val video.

    Returns:
        dict: ``only_a``, ``only_b``, ``p_value`` (see
        :func:`~sdc_mmaction.evaluation.paired_test.paired_sign_test`), ``seeds`` (the
        seeds pooled) and ``pairs`` (videos x seeds).
    """
    from sdc_mmaction.evaluation.paired_test import paired_sign_test

    seeds = sorted(set(outcomes_a) & set(outcomes_b))
    if not seeds:
        raise ValueError(f'pooled_sign_test: no seed in common (A has '
                         f'{sorted(outcomes_a)}, B has {sorted(outcomes_b)})')
    pooled_a, pooled_b = [], []
    for seed in seeds:
        if len(outcomes_a[seed]) != len(outcomes_b[seed]):
            raise ValueError(f'pooled_sign_test: seed {seed} has {len(outcomes_a[seed])} '
                             f'outcomes for A and {len(outcomes_b[seed])} for B')
        pooled_a += list(outcomes_a[seed])
        pooled_b += list(outcomes_b[seed])
    test = paired_sign_test(pooled_a, pooled_b)
    return dict(test, seeds=seeds, pairs=len(pooled_a))


def evaluate_features(extracted: Mapping, features: Sequence[str]) -> dict:
    """Linear probes of ``features`` on every label set of :data:`LABEL_SETS` and
    retrieval of ``v``.

    Args:
        extracted: ``(variant, split) -> (features, labels)`` as the extractors give.
        features: the names to probe.

    Returns:
        dict: ``probes[labels][feature]`` (top-1 in [0, 1]), ``correct[labels][feature]``
        (one bool per val video), ``retrieval`` (``R@k``), ``val_videos`` (per variant,
        the number of val videos).
    """
    from sdc_mmaction.evaluation.metrics.retrieval_metric import retrieval_recall

    from .concept_analysis import probe_features

    probes, correct, val_videos = OrderedDict(), OrderedDict(), OrderedDict()
    for variant in OrderedDict.fromkeys(v for v, _ in LABEL_SETS.values()):
        train_feats, train_labels = extracted[(variant, 'train')]
        val_feats, val_labels = extracted[(variant, 'val')]
        missing = [f for f in features if f not in train_feats]
        if missing:
            raise KeyError(f'the extracted features lack {missing}; they hold '
                           f'{sorted(train_feats)}')
        # the extractors name the label sets as LABEL_SETS does
        names = [label for label, (v, _) in LABEL_SETS.items() if v == variant]
        outcomes = OrderedDict()
        results = probe_features(
            {f: train_feats[f] for f in features}, {f: val_feats[f] for f in features},
            OrderedDict((label, train_labels[label]) for label in names),
            OrderedDict((label, val_labels[label]) for label in names),
            outcomes=outcomes)
        probes.update(results)
        correct.update(outcomes)
        val_videos[variant] = int(val_feats['v'].shape[0])
    train_feats, train_labels = extracted[('scenes', 'train')]
    val_feats, val_labels = extracted[('scenes', 'val')]
    retrieval = retrieval_recall(val_feats['v'], val_labels['action'], train_feats['v'],
                                 train_labels['action'], topk=RETRIEVAL_TOPK)
    return dict(probes=probes, correct=correct, retrieval=retrieval, val_videos=val_videos)


def _checkpoint_iterations(checkpoint: str) -> int:
    """The training iterations a checkpoint's mmengine metadata records."""
    import torch
    meta = torch.load(checkpoint, map_location='cpu', weights_only=False).get('meta', {})
    if 'iter' not in meta:
        raise KeyError(f'{checkpoint} records no iteration count (meta.iter)')
    return int(meta['iter'])


def run_one(job: Mapping) -> dict:
    """Train (where the method trains), extract and evaluate one (dataset, method, seed);
    return its result, also written to ``<run_dir>/result.json`` with the ``done``
    marker after it. A run whose marker exists is not repeated: its result is read."""
    import torch

    import sdc_mmaction  # noqa: F401  (registration, also in a fresh worker process)

    run_dir = job['run_dir']
    result_file = osp.join(run_dir, 'result.json')
    if osp.isfile(osp.join(run_dir, DONE_MARKER)):
        with open(result_file) as handle:
            result = json.load(handle)
        if result['settings'] != job['settings']:
            raise FileExistsError(f'{run_dir} holds a finished run with other settings '
                                  f'({result["settings"]}) than this one '
                                  f'({job["settings"]}); choose another --work-dir')
        return dict(result, skipped=True)
    threads = job.get('threads')
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:  # the caller's thread count comes back (runs in this process share it)
        return _run_one(job, threads)
    finally:
        torch.set_num_threads(previous_threads)


def _run_one(job: Mapping, threads: Optional[int]) -> dict:
    import torch

    if job['method'] not in METHODS:
        # worker processes import this module afresh: a method registered elsewhere at
        # run time is unknown there
        raise KeyError(f'method {job["method"]!r} is not registered in this process; '
                       'register it in sdc_mmaction/apis/compare_methods.py (or a module '
                       'that it imports) to run it with max_parallel > 1')
    method = METHODS[job['method']]
    run_dir = job['run_dir']
    result_file = osp.join(run_dir, 'result.json')
    os.makedirs(run_dir, exist_ok=True)
    start = time.time()
    checkpoint, iterations = None, 0
    config = method.extract_config
    if method.train_config is not None:
        train_dir = osp.join(run_dir, 'train')
        os.makedirs(train_dir, exist_ok=True)
        checkpoint = pretrain(train_dir, job['data_root'], job['preset'], seed=job['seed'],
                              config=method.train_config, threads=threads,
                              log_file=osp.join(run_dir, 'train.log'))
        iterations = _checkpoint_iterations(checkpoint)
        if config is None:
            config = trained_config(train_dir, method.train_config)
    train_s = time.time() - start
    # a checkpoint reused after a failure in the evaluation keeps its training's time
    # (a training resumed after an interruption counts from the resume only)
    timing_file = osp.join(run_dir, 'train_time.json')
    if checkpoint is not None and osp.isfile(timing_file):
        with open(timing_file) as handle:
            train_s = json.load(handle)['train_s']
    elif checkpoint is not None:
        with open(timing_file, 'w') as handle:
            json.dump(dict(train_s=train_s), handle)
    eval_start = time.time()
    extracted = method.extractor(checkpoint, config, job['data_root'], job['meta'],
                                 job['preset']['num_clips'], method.features, job['seed'],
                                 f'{job["dataset"]} {method.name} seed {job["seed"]}')
    result = evaluate_features(extracted, method.features)
    result = dict(dataset=job['dataset'], method=method.name, seed=job['seed'],
                  settings=job['settings'], iterations=iterations,
                  train_s=round(train_s, 1), eval_s=round(time.time() - eval_start, 1),
                  total_s=round(train_s + time.time() - eval_start, 1),
                  threads=torch.get_num_threads(), **result)
    with open(result_file, 'w') as handle:
        json.dump(result, handle, indent=1)
    with open(osp.join(run_dir, DONE_MARKER), 'w') as handle:
        handle.write('finished\n')
    return dict(result, skipped=False)


def summarise(results: Sequence[Mapping]) -> dict:
    """Mean and sd over seeds per (dataset, method, label set, feature), retrieval, wall
    time and iterations, and the paired tests.

    Returns:
        dict: ``tables[dataset][method]`` with ``probes[labels][feature]``,
        ``retrieval[R@k]`` (each :func:`mean_sd` in [0, 1] plus ``values``), ``seeds``,
        ``iterations`` (the distinct counts), ``train_s`` / ``total_s`` (mean_sd of
        seconds); ``tests[dataset]``: a list of dicts (``a``, ``b``, ``labels``,
        ``feature`` and :func:`pooled_sign_test`'s fields; ``p_value`` for A > B and
        ``p_value_reverse`` for B > A).
    """
    grouped: Dict[str, Dict[str, List[Mapping]]] = OrderedDict()
    for res in results:
        grouped.setdefault(res['dataset'], OrderedDict()).setdefault(res['method'],
                                                                     []).append(res)
    tables, tests = OrderedDict(), OrderedDict()
    for dataset, by_method in grouped.items():
        table = OrderedDict()
        for method, runs in by_method.items():
            runs = sorted(runs, key=lambda r: r['seed'])
            seeds = [r['seed'] for r in runs]
            if len(set(seeds)) != len(seeds):
                raise ValueError(f'{dataset}/{method}: a seed occurs twice in {seeds}')
            probes = OrderedDict()
            for labels in runs[0]['probes']:
                probes[labels] = OrderedDict()
                for feature in runs[0]['probes'][labels]:
                    values = [r['probes'][labels][feature] for r in runs]
                    probes[labels][feature] = dict(mean_sd(values), values=values)
            retrieval = OrderedDict(
                (key, dict(mean_sd([r['retrieval'][key] for r in runs]),
                           values=[r['retrieval'][key] for r in runs]))
                for key in runs[0]['retrieval'])
            table[method] = dict(
                seeds=seeds, probes=probes, retrieval=retrieval,
                iterations=sorted({r['iterations'] for r in runs}),
                train_s=mean_sd([r['train_s'] for r in runs]),
                total_s=mean_sd([r['total_s'] for r in runs]))
        tables[dataset] = table
        tests[dataset] = paired_tests(by_method)
    return dict(tables=tables, tests=tests)


def paired_tests(by_method: Mapping[str, Sequence[Mapping]]) -> list:
    """The headline comparisons of one dataset, on ``v`` for every label set: every
    method against ``random``, and ``sdc`` against every other method (both where
    present), with the outcomes of their common seeds pooled."""
    pairs = [(m, 'random') for m in by_method if m != 'random' and 'random' in by_method]
    if 'sdc' in by_method:
        pairs += [('sdc', m) for m in by_method if m not in ('sdc', 'random')]
    out = []
    for a, b in pairs:
        for labels in LABEL_SETS:
            outcomes = [{r['seed']: r['correct'][labels]['v'] for r in by_method[m]}
                        for m in (a, b)]
            if not set(outcomes[0]) & set(outcomes[1]):
                continue
            test = pooled_sign_test(*outcomes)
            reverse = pooled_sign_test(outcomes[1], outcomes[0])
            out.append(dict(a=a, b=b, labels=labels, feature='v', **test,
                            p_value_reverse=reverse['p_value']))
    return out


def chance_levels(meta: Mapping) -> 'OrderedDict[str, float]':
    """Accuracy of a constant guess on each label set of :data:`LABEL_SETS` (1 / the
    number of classes; the generated lists are balanced), from a dataset's meta.json."""
    classes = dict(action=len(meta['action_classes']), static=len(meta['static_classes']),
                   dynamic=len(meta['dynamic_classes']),
                   motion=len(meta['dynamic_classes']))
    return OrderedDict((labels, 1.0 / classes[labels]) for labels in LABEL_SETS)


def _cell(stat: Mapping) -> str:
    if stat['sd'] is None:
        return f'{100 * stat["mean"]:.1f}'
    return f'{100 * stat["mean"]:.1f} ± {100 * stat["sd"]:.1f}'


def format_markdown(summary: Mapping, settings: Mapping) -> str:
    """The comparison as markdown: per dataset, one table of probes and retrieval (mean
    ± sd over seeds, in %), then the paired tests."""
    lines = ['# Method comparison on the generated static/dynamic dataset', '',
             f'Preset `{settings["preset"]}`: {settings["max_epochs"]} epochs of batch '
             f'{settings["batch_size"]} for every trained method, features from '
             f'{settings["num_clips"]} clip(s) per video, data seed {settings["data_seed"]}. '
             'Linear probe top-1 and retrieval of v (val videos query the training videos) '
             'in %, mean ± sample sd over the seeds (no sd for one seed); "train min": '
             'the mean wall time of training, in minutes.', '']
    label_titles = [title for _, title in LABEL_SETS.values()]
    for dataset, table in summary['tables'].items():
        chance = summary.get('chance', {}).get(dataset)
        lines += [f'## Data: `{dataset}`', '']
        if dataset in DATASET_NOTES:
            lines += [DATASET_NOTES[dataset][0].upper() + DATASET_NOTES[dataset][1:] + '.',
                      '']
        if chance:
            lines += ['Chance: ' + ', '.join(f'{LABEL_SETS[k][1]} {100 * v:.1f} %'
                                             for k, v in chance.items()) + '.', '']
        lines += [
                  '| method | feature | seeds | ' + ' | '.join(label_titles) + ' | ' +
                  ' | '.join(f'R@{k}' for k in RETRIEVAL_TOPK) +
                  ' | iterations | train min |',
                  '|---|---|---|' + '---|' * (len(label_titles) + len(RETRIEVAL_TOPK) + 2)]
        for method, row in table.items():
            title = METHODS[method].title if method in METHODS else method
            features = list(next(iter(row['probes'].values())))
            for feature in features:
                cells = [_cell(row['probes'][labels][feature]) for labels in LABEL_SETS]
                if feature == 'v':
                    cells += [_cell(row['retrieval'][f'R@{k}']) for k in RETRIEVAL_TOPK]
                    cells += ['/'.join(str(i) for i in row['iterations']),
                              f'{row["train_s"]["mean"] / 60:.1f}']
                else:
                    cells += [''] * (len(RETRIEVAL_TOPK) + 2)
                lines.append(f'| {title} | {feature} | {len(row["seeds"])} | ' +
                             ' | '.join(cells) + ' |')
        tests = summary['tests'][dataset]
        if tests:
            lines += ['', f'Paired sign tests on `{dataset}` (v; val videos of all common '
                      'seeds pooled; p one-sided, A better / B better):', '',
                      '| A | B | labels | seeds | only A right | only B right | p (A > B) '
                      '| p (B > A) |', '|---|---|---|---|---|---|---|---|']
            for t in tests:
                lines.append(f'| {t["a"]} | {t["b"]} | {LABEL_SETS[t["labels"]][1]} | '
                             f'{len(t["seeds"])} | {t["only_a"]} | {t["only_b"]} | '
                             f'{t["p_value"]:.3g} | {t["p_value_reverse"]:.3g} |')
        lines.append('')
    notes = [f'- {m.title}: {m.note}' for name, m in METHODS.items()
             if m.note and any(name in t for t in summary['tables'].values())]
    if notes:
        lines += ['Methods:', ''] + notes + ['']
    return '\n'.join(lines)


def plot_comparison(summary: Mapping, path: str) -> str:
    """Grouped bars of the ``v`` probes (one group per label set, one bar per method,
    error bars one sd over seeds), one panel per dataset; written to ``path``."""
    import matplotlib
    matplotlib.use('Agg')  # files only: works without a display
    import matplotlib.pyplot as plt

    datasets = list(summary['tables'])
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 5),
                             squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        table = summary['tables'][dataset]
        width = 0.8 / max(len(table), 1)
        for i, (method, row) in enumerate(table.items()):
            stats = [row['probes'][labels]['v'] for labels in LABEL_SETS]
            xs = [j + (i - (len(table) - 1) / 2) * width for j in range(len(LABEL_SETS))]
            has_sd = all(s['sd'] is not None for s in stats)
            ax.bar(xs, [100 * s['mean'] for s in stats], width,
                   yerr=[100 * s['sd'] for s in stats] if has_sd else None, capsize=3,
                   label=METHODS[method].title if method in METHODS else method)
        chance = summary.get('chance', {}).get(dataset)
        if chance:
            ax.hlines([100 * chance[labels] for labels in LABEL_SETS],
                      [j - 0.45 for j in range(len(LABEL_SETS))],
                      [j + 0.45 for j in range(len(LABEL_SETS))], colors='k',
                      linestyles='dashed', linewidth=1, label='chance')
        ax.set_xticks(range(len(LABEL_SETS)))
        ax.set_xticklabels([title for _, title in LABEL_SETS.values()])
        ax.set_ylim(0, 100)
        ax.set_ylabel('linear probe of v, top-1 (%)')
        ax.set_title(f'data: {dataset}')
    # one legend for all panels, below them, so that no bar hides behind it
    handles, labels = axes[0][0].get_legend_handles_labels()
    rows = math.ceil(len(labels) / 3)
    fig.legend(handles, labels, loc='lower center', ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.045 * rows, 1, 1))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _estimate_left(durations: Mapping[str, List[float]], pending: Sequence[str],
                   parallel: int) -> Optional[float]:
    """Seconds left: each pending run at its method's mean so far (the mean over all
    methods where its own has none yet), shared by ``parallel`` workers."""
    every = [d for ds in durations.values() for d in ds]
    if not every:
        return None
    overall = sum(every) / len(every)
    total = sum(sum(durations[m]) / len(durations[m]) if durations.get(m) else overall
                for m in pending)
    return total / max(parallel, 1)


def _parse_seeds(seeds) -> List[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f'seeds must be at least 1, got {seeds}')
        return list(range(seeds))
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ValueError(f'seeds must be a count or a list of integers, got {seeds!r}')
    if len(set(seeds)) != len(seeds):
        raise ValueError(f'seeds repeat: {seeds}')
    return seeds


def compare_methods(work_dir: str = 'work_dirs/compare',
                    methods: Sequence[str] = tuple(METHODS),
                    datasets: Sequence[str] = tuple(DATASETS),
                    seeds=3,
                    preset: str = 'default',
                    max_epochs: Optional[int] = None,
                    data_seed: int = 0,
                    max_parallel: int = 1,
                    threads: Optional[int] = None,
                    figure: bool = True) -> dict:
    """Run the comparison; return the summary (also in ``comparison.json`` /
    ``comparison.md`` and the figure ``comparison.png`` in ``work_dir``).

    Args:
        methods: names of :data:`METHODS`. datasets: names of :data:`DATASETS`.
        seeds (int | list[int]): a count (seeds 0..n-1) or the seeds. Each seeds the
            training (and a random model's weights); the data are the same for all.
        preset (str): a quick-start preset (data size, epochs, batch, clips per video).
        max_epochs (int, optional): epochs for every trained method instead of the
            preset's.
        data_seed (int): the generated datasets' seed.
        max_parallel (int): runs at once, each in a worker process.
        threads (int, optional): CPU threads per run (default: the environment's; with
            ``max_parallel > 1`` set it so that the runs share the cores).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f'unknown methods {unknown}; choose from {list(METHODS)}')
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown or not datasets:
        raise ValueError(f'unknown datasets {unknown}; choose from {list(DATASETS)}')
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose from {list(PRESETS)}')
    if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or \
            max_parallel < 1:
        raise ValueError(f'max_parallel must be a positive integer, got {max_parallel!r}')
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f'threads must be a positive integer, got {threads!r}')
    seeds = _parse_seeds(seeds)
    settings = dict(PRESETS[preset])
    if max_epochs is not None:
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f'max_epochs must be a positive integer, got {max_epochs!r}')
        settings['max_epochs'] = max_epochs
    run_settings = dict(preset=preset, max_epochs=settings['max_epochs'],
                        batch_size=settings['batch_size'], num_clips=settings['num_clips'],
                        data_seed=data_seed)
    work_dir = osp.abspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    settings_file = osp.join(work_dir, SETTINGS_FILE)
    if osp.isfile(settings_file):
        with open(settings_file) as handle:
            recorded = json.load(handle)
        if recorded != run_settings:
            raise FileExistsError(f'{work_dir} holds a comparison with other settings '
                                  f'({recorded}) than this one ({run_settings}); choose '
                                  'another --work-dir')
    with open(settings_file, 'w') as handle:
        json.dump(run_settings, handle, indent=2)

    jobs, chance = [], OrderedDict()
    for dataset in datasets:
        data_root = osp.join(work_dir, 'data', dataset)
        meta = prepare_dataset(data_root, dict(settings['dataset'], **DATASETS[dataset]),
                               seed=data_seed)
        meta = {k: v for k, v in meta.items() if k != 'root'}
        chance[dataset] = chance_levels(meta)
        prepared = set()  # two methods may read the same data (e.g. the same flow)
        for method in methods:
            prepare = METHODS[method].prepare
            if prepare is None or prepare in prepared:
                continue
            prepared.add(prepare)
            prepare_start = time.time()
            prepare(data_root, max_parallel)
            _log(f'{dataset}: prepared the data of {method} in '
                 f'{time.time() - prepare_start:.0f} s')
        for method in methods:
            for seed in seeds:
                jobs.append(dict(
                    dataset=dataset, method=method, seed=seed, data_root=data_root,
                    meta=meta, preset=settings, settings=run_settings, threads=threads,
                    run_dir=osp.join(work_dir, 'runs', dataset, method, f'seed{seed}')))
    start = time.time()
    results = _run_jobs(jobs, max_parallel, start)
    summary = summarise(results)
    summary['chance'] = chance
    summary['settings'] = run_settings
    summary['elapsed_s'] = round(time.time() - start, 1)
    runs = [{k: v for k, v in r.items() if k != 'correct'} for r in results]
    with open(osp.join(work_dir, 'comparison.json'), 'w') as handle:
        json.dump(dict(summary, runs=runs), handle, indent=1)
    with open(osp.join(work_dir, 'comparison.md'), 'w') as handle:
        handle.write(format_markdown(summary, run_settings))
    if figure:
        summary['figure'] = plot_comparison(summary, osp.join(work_dir, 'comparison.png'))
    _log(f'done in {(time.time() - start) / 60:.1f} min: '
         f'{osp.join(work_dir, "comparison.md")}')
    return summary


def _run_jobs(jobs: Sequence[Mapping], max_parallel: int, start: float) -> List[dict]:
    """Run every job (in worker processes when ``max_parallel > 1``), logging progress
    and the time left after each."""
    durations: Dict[str, List[float]] = OrderedDict()
    results, pending = [], [job['method'] for job in jobs]

    def finished(job, result):
        results.append(result)
        pending.remove(job['method'])
        if not result['skipped']:
            durations.setdefault(job['method'], []).append(result['total_s'])
        left = _estimate_left(durations, pending, max_parallel)
        eta = 'unknown' if left is None else f'{left / 60:.1f} min'
        what = ('already done, read back' if result['skipped'] else
                f'{result["total_s"] / 60:.1f} min')
        _log(f'{len(results)}/{len(jobs)} {job["dataset"]} {job["method"]} seed '
             f'{job["seed"]} ({what}); {(time.time() - start) / 60:.1f} min so far, '
             f'about {eta} left')

    if max_parallel == 1:
        for job in jobs:
            finished(job, run_one(job))
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    with ProcessPoolExecutor(max_workers=max_parallel,
                             mp_context=multiprocessing.get_context('spawn')) as pool:
        futures = {pool.submit(run_one, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception as err:
                # the runs not started yet are dropped; finished ones keep their marker
                pool.shutdown(wait=True, cancel_futures=True)
                raise RuntimeError(f'the run {job["dataset"]} {job["method"]} seed '
                                   f'{job["seed"]} failed ({type(err).__name__}: {err}); '
                                   'rerun the same command to go on after a fix') from err
            finished(job, result)
    order = {(j['dataset'], j['method'], j['seed']): i for i, j in enumerate(jobs)}
    return sorted(results, key=lambda r: order[(r['dataset'], r['method'], r['seed'])])


__all__ = ['Method', 'METHODS', 'DATASETS', 'LABEL_SETS', 'register_method', 'mean_sd',
           'pooled_sign_test', 'evaluate_features', 'run_one', 'summarise',
           'paired_tests', 'chance_levels', 'format_markdown', 'plot_comparison', 'compare_methods',
           'extract_with_quickstart']
