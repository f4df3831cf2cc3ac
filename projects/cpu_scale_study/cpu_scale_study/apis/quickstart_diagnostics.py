"""The study's diagnostics of a quick-start run: how the clip's codes assign the training
videos (a collapse shows as uniform targets), which factor each feature's spread follows,
and the decoupling checks asked of the concept distributions and of each kind of concept
feature alone. ``projects/cpu_scale_study/tools/code_diagnostics.py`` is the CLI."""
import json
import os.path as osp
from collections import OrderedDict
from typing import Mapping, Optional

import torch

from sdc_mmaction.apis.concept_analysis import DISTRIBUTION_FEATURES
from sdc_mmaction.apis.quickstart import (VIEW_FEATURES, _check_lines, decoupling_checks,
                                          evaluate, extract_all, trained_config)

from .code_diagnostics import code_assignment_stats, factor_variance_share

#: features whose variance the diagnostics split by factor (scene, motion)
VARIANCE_FEATURES = ('v', 'q_v_s', 'q_v_d') + DISTRIBUTION_FEATURES + \
    ('F_v_s', 'F_v_d') + VIEW_FEATURES
#: codes whose Sinkhorn assignments the diagnostics describe (collapse)
CODE_DIAGNOSTICS = ('q_v_s', 'q_v_d')
#: the paper's two kinds of concept features, (static, dynamic) each; the claims take the
#: best feature of either kind per check, these checks ask each kind alone
FEATURE_FAMILIES = OrderedDict(codes=(('q_v_s', ), ('q_v_d', )),
                               local_features=(('F_v_s', ), ('F_v_d', )))


def describe_codes(features: Mapping, labels: Mapping, model) -> 'OrderedDict[str, dict]':
    """Whether the clip's static and dynamic codes still group the videos, and by what
    (:func:`code_assignment_stats`, with the model's
    Sinkhorn settings), over the given videos at once."""
    head = model.align_head
    factors = OrderedDict((name, labels[name]) for name in ('static', 'dynamic'))
    return OrderedDict(
        (name, code_assignment_stats(features[name], factors,
                                     epsilon=head.sinkhorn_epsilon,
                                     num_iters=head.sinkhorn_iterations))
        for name in CODE_DIAGNOSTICS)


def variance_shares(features: Mapping, labels: Mapping) -> 'OrderedDict[str, dict]':
    """For each of :data:`VARIANCE_FEATURES`, the share of its variance over the given
    videos that the scene (``static``) and the motion (``dynamic``) account for
    (:func:`factor_variance_share`), and ``chance``:
    what a feature unrelated to each factor gets, ``(C - 1) / (N - 1)``."""
    factors = ('static', 'dynamic')
    shares = OrderedDict(
        (name, OrderedDict((factor, factor_variance_share(features[name], labels[factor]))
                           for factor in factors))
        for name in VARIANCE_FEATURES)
    shares['chance'] = OrderedDict(
        (factor, (len(torch.unique(labels[factor])) - 1) / (len(labels[factor]) - 1))
        for factor in factors)
    return shares


def check_distributions(sdc: Mapping, margins: Mapping) -> 'OrderedDict[str, dict]':
    """The three decoupling checks of :func:`check_claims`, asked of Eq. 4's concept
    distributions ``p_v^s`` and ``p_v^d`` (:data:`DISTRIBUTION_FEATURES`) instead of the
    paper's features. Reported beside the claims, not one of them."""
    return decoupling_checks(sdc, margins, ('p_v_s', ), ('p_v_d', ))


def check_feature_families(sdc: Mapping, margins: Mapping) -> 'OrderedDict[str, dict]':
    """The three decoupling checks of :func:`check_claims` asked of each kind of concept
    feature alone (:data:`FEATURE_FAMILIES`: the codes ``q_v^s``/``q_v^d``, the local
    features ``F_v^s``/``F_v^d``): ``family -> checks``. The claims' motion-only check
    compares the best dynamic feature with the best static feature of either kind; these
    say whether one kind decouples on its own. Reported beside the claims, not one of
    them."""
    return OrderedDict((family, decoupling_checks(sdc, margins, static, dynamic))
                       for family, (static, dynamic) in FEATURE_FAMILIES.items())


def diagnose(sdc_extracted: Mapping, random_extracted: Mapping, margins: Mapping) -> dict:
    """Every diagnostic of one quick-start run from its extracted features
    (:func:`~sdc_mmaction.apis.quickstart.extract_all` of the trained and of the random
    model): ``dict(sdc=..., random=...)`` with the probes, ``codes`` and ``variance`` of
    each, plus ``distribution_checks`` and ``family_checks`` of SDC."""
    out = {}
    for name, extracted in (('sdc', sdc_extracted), ('random', random_extracted)):
        res = evaluate(extracted)
        train_feats, train_labels = extracted[('scenes', 'train')]
        res['codes'] = describe_codes(train_feats, train_labels, extracted['model'])
        res['variance'] = variance_shares(train_feats, train_labels)
        out[name] = res
    out['distribution_checks'] = check_distributions(out['sdc'], margins)
    out['family_checks'] = check_feature_families(out['sdc'], margins)
    return out


def format_diagnostics(result: Mapping) -> str:
    """The diagnostics of :func:`diagnose` as markdown."""
    sdc, random = result['sdc'], result['random']
    distribution_checks = result.get('distribution_checks')
    family_checks = result.get('family_checks')
    check_lines = _check_lines
    lines = []
    lines += ['## Concept codes of the training videos', '',
              'Sinkhorn targets solved over all training videos at once. A target entropy '
              'near ln K means the codes no longer tell the videos apart (collapse); NMI '
              'says which factor the strongest concepts follow (1: exactly, 0: not at all).',
              '', '| model | codes | code std | target entropy (ln K) | concepts used | '
              'NMI scene | NMI motion |', '|---|---|---|---|---|---|---|']
    for name, res in (('SDC', sdc), ('random', random)):
        for codes, stats in res['codes'].items():
            lines.append(f'| {name} | {codes} | {stats["code_std"]:.3f} | '
                         f'{stats["target_entropy"]:.2f} ({stats["uniform_entropy"]:.2f}) | '
                         f'{stats["concepts_used"]:.0f} | {stats["nmi_static"]:.2f} | '
                         f'{stats["nmi_dynamic"]:.2f} |')
    chance = sdc['variance']['chance']
    lines += ['', "## What each feature's spread follows (training videos)", '',
              "Share (%) of each feature's variance that the scene / the motion accounts "
              'for (between-class over total sum of squares). A linear probe reads a '
              'factor that moves a feature little but consistently; this says which '
              'factor dominates it. Unrelated features get about '
              f'{100 * chance["static"]:.1f} / {100 * chance["dynamic"]:.1f} by chance.',
              '', '| model | ' + ' | '.join(VARIANCE_FEATURES) + ' |',
              '|---|' + '---|' * len(VARIANCE_FEATURES)]
    for name, res in (('SDC', sdc), ('random', random)):
        shares = res['variance']
        lines.append(f'| {name} | ' + ' | '.join(
            f'{100 * shares[f]["static"]:.1f} / {100 * shares[f]["dynamic"]:.1f}'
            for f in VARIANCE_FEATURES) + ' |')
    if distribution_checks:
        lines += ['', '## The decoupling checks asked of the concept distributions', '',
                  'The same margins and tests, with p_v_s and p_v_d in place of the '
                  "paper's features; reported beside the checks above, not one of them.", '',
                  *check_lines(distribution_checks)]
    if family_checks:
        lines += ['', '## The decoupling checks asked of each kind of concept feature',
                  '', 'The same margins and tests, with the codes alone and the local '
                  'features alone; the checks above take the best feature of either kind '
                  'per check. Reported beside them, not one of them.']
        for family, (static, dynamic) in FEATURE_FAMILIES.items():
            if family in family_checks:
                lines += ['', f'{family} ({", ".join(static + dynamic)}):',
                          *check_lines(family_checks[family])]
    return '\n'.join(lines)


def load_quickstart_run(work_dir: str, data_root: Optional[str] = None):
    """``(report, data_root, meta)`` of a finished quick start in ``work_dir``: its
    ``results.json``, its dataset folder (``data_root``, else the one the report names,
    else ``work_dir/data``) and that dataset's ``meta.json``; a clear error where one is
    missing."""
    results = osp.join(work_dir, 'results.json')
    if not osp.isfile(results):
        raise FileNotFoundError(f'{results} is missing: run the quick start into {work_dir} '
                                'first')
    with open(results) as handle:
        report = json.load(handle)
    data_root = data_root or report.get('data_root') or osp.join(work_dir, 'data')
    meta_path = osp.join(data_root, 'meta.json')
    if not osp.isfile(meta_path):
        raise FileNotFoundError(f'{meta_path} is missing: pass the data root of this run')
    with open(meta_path) as handle:
        meta = json.load(handle)
    for key in ('checkpoint', 'config'):
        if key not in report:
            raise KeyError(f'{results} has no {key!r}; rerun the quick start into {work_dir}')
    return report, data_root, meta


def diagnose_quickstart(work_dir: str, data_root: Optional[str] = None) -> dict:
    """Re-extract the features of a finished quick start in ``work_dir`` (its
    ``results.json`` names the checkpoint, config, preset and dataset) and write
    ``diagnostics.md`` / ``diagnostics.json`` there; returns the result."""
    from sdc_mmaction.apis.quickstart import PRESETS

    report, data_root, meta = load_quickstart_run(work_dir, data_root)
    preset = PRESETS[report['preset']]
    config = trained_config(osp.join(work_dir, 'pretrain'), report['config'])
    sdc = extract_all(report['checkpoint'], data_root, meta, preset['num_clips'], 'SDC',
                      config)
    random = extract_all(None, data_root, meta, preset['num_clips'], 'random', config)
    result = diagnose(sdc, random, preset['margins'])
    with open(osp.join(work_dir, 'diagnostics.json'), 'w') as handle:
        json.dump(result, handle, indent=2)
    with open(osp.join(work_dir, 'diagnostics.md'), 'w') as handle:
        handle.write(format_diagnostics(result) + '\n')
    return result
