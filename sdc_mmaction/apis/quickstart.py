"""The end-to-end quick start: generate data, pretrain SDC, evaluate it against a random
backbone of the same shape, and draw the pictures. ``tools/quickstart.py`` is its CLI.

Steps (each reuses the library piece a user would run by hand):

1. :func:`~sdc_mmaction.datasets.synthetic.generate_dataset` writes the generated videos
   (skipped when the folder already holds a dataset made with the same options);
2. ``tools/train.py`` pretrains the paper's objective on them (the tiny R(2+1)D config
   ``configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py``) in a child process,
   exactly as a GPU run would (mmengine's log shows progress and ETA);
3. :func:`~sdc_mmaction.apis.checkpoint.convert_pretrained` exports the backbone;
4. for SDC and for the same model with random weights, one pass of feature extraction
   per video list gives the Table 3 features (``v``, ``q_v``, ``q_v^s``, ``q_v^d``,
   ``F_v``, ``F_v^s``, ``F_v^d``), which feed linear probes on the action, static
   (scene) and dynamic (motion) labels and on the motion-only variant, and
   nearest-neighbour retrieval of ``v`` (val videos query the training videos); the
   static frame's and the frame difference's own features (``s``, ``q_s``, ``d``,
   ``q_d``) and the concept distributions of the clip's two halves (``p_v^s``,
   ``p_v^d``) are probed beside them;
5. pictures: concept attention maps (where the feature map has enough locations),
   per-class code similarity, loss curves;
6. a short summary (:func:`format_summary`: one table of SDC against the random model,
   which claims hold, where the files are) on the console and at the top of
   ``results.md``, the full tables below it, everything in ``results.json``.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch

from .concept_analysis import DISTRIBUTION_FEATURES, TABLE_FEATURES
from .config_options import check_key_value

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN_CONFIG = osp.join(REPO_ROOT, 'configs', 'sdc',
                           'sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py')

#: Presets: ``default`` is the README's quick start (a few minutes on 2 cores); ``ci`` is
#: a smaller, faster dataset (32 px frames, one clip per video for the features) with a
#: longer schedule, the size of the CPU-scale study's CI-size runs; ``smoke`` runs every
#: step on a dataset of a few videos, to show the path works (its numbers mean nothing).
#: ``config`` is the pretraining config, unless ``run_quickstart`` is given another.
PRESETS: Dict[str, dict] = OrderedDict(
    default=dict(
        config=PRETRAIN_CONFIG,
        dataset=dict(num_static=4, num_dynamic=4, train_per_class=12, val_per_class=4,
                     size=64, num_frames=24),
        max_epochs=12, batch_size=8, num_clips=3,
        # the margins the checks ask for (accuracies in [0, 1]); on the action label SDC
        # must also be right on more of the same val videos than the random model by
        # more than chance (one-sided paired sign test below action_p_value): with 64 val
        # videos a lead of 12.5 points can come by chance.
        # Likewise each decoupling check (decoupling_p_value): one feature's probes on
        # two label sets of the same val videos, or on the motion-only variant the best
        # dynamic against the best static feature; there a 6-point lead with both
        # features at chance met the margin alone in one of our runs.
        margins=dict(action_over_random=0.10, decoupling=0.05, action_p_value=0.05,
                     decoupling_p_value=0.05)),
    ci=dict(
        config=PRETRAIN_CONFIG,
        dataset=dict(num_static=4, num_dynamic=4, train_per_class=8, val_per_class=4,
                     size=32, num_frames=18),
        max_epochs=64, batch_size=8, num_clips=1,
        # the leads alone: one clip per video makes the probes noisier than the default's
        margins=dict(action_over_random=0.05, decoupling=0.10, action_p_value=None,
                     decoupling_p_value=None)),
    smoke=dict(
        config=PRETRAIN_CONFIG,
        dataset=dict(num_static=2, num_dynamic=2, train_per_class=3, val_per_class=2,
                     size=32, num_frames=18),
        max_epochs=1, batch_size=4, num_clips=1,
        margins=dict(action_over_random=0.0, decoupling=0.0, action_p_value=None,
                     decoupling_p_value=None)),
)

#: what pretrain() records in its work dir, so a rerun with other settings is refused
RUN_RECORD = 'quickstart_pretrain.json'

#: label sets probed on the scenes videos: name -> annotation stem
SCENE_LABELS = OrderedDict(action='action', static='static', dynamic='dynamic')
#: features probed (Table 3 of the paper)
FEATURES = TABLE_FEATURES
#: the static frame's and the frame difference's own features, from views derived from
#: each clip: whether the views that give the clip's two halves their targets are
#: themselves decoupled (reported beside the table, not part of the checks)
VIEW_FEATURES = ('s', 'q_s', 'd', 'q_d')
# DISTRIBUTION_FEATURES (imported): the concept distributions, the part of the codes the
# alignment trains (no shift shared by all of a half's codes), probed in a table of their
# own; the claims' checks use the paper's features only
#: the concept features the decoupling checks compare, and the label sets they use
CONCEPT_FEATURES = ('q_v_s', 'q_v_d', 'F_v_s', 'F_v_d')
DECOUPLING_LABELS = ('static', 'dynamic', 'motion')
def _log(message: str) -> None:
    print(f'[quickstart] {message}', flush=True)


def prepare_dataset(data_root: str, options: Mapping, seed: int = 0) -> dict:
    """Generate the dataset into ``data_root`` unless it already holds the same one.

    Every generator option counts, not only those in ``options`` (the others at their
    defaults), so a folder made with, e.g., another ``hue_amplitude`` is refused rather
    than evaluated as if it were the preset's data."""
    from sdc_mmaction.datasets.synthetic import generate_dataset

    meta_file = osp.join(data_root, 'meta.json')
    if osp.isfile(meta_file):
        with open(meta_file) as handle:
            meta = json.load(handle)
        wanted = _wanted_options(options, seed)
        found = _recorded_options(meta)
        differ = {key: value for key, value in wanted.items() if found.get(key) != value}
        if not differ:
            _log(f'reusing the generated dataset in {data_root}')
            meta['root'] = osp.abspath(data_root)
            return meta
        held = {key: found.get(key) for key in differ}
        raise FileExistsError(
            f'{data_root} holds a generated dataset with other options than this preset '
            f'(wanted {differ}, found {held}); choose another --data-root or delete the '
            'folder')
    _log(f'generating the dataset into {data_root}')
    return generate_dataset(data_root, seed=seed, progress=True, **options)


def _wanted_options(options: Mapping, seed: int) -> dict:
    """Every option of the generator, as meta.json records them: ``options`` over the
    defaults, ``size`` as height and width."""
    from dataclasses import asdict

    from sdc_mmaction.datasets.synthetic import SyntheticOptions

    wanted = asdict(SyntheticOptions())
    given = dict(options)
    if 'size' in given:
        size = given.pop('size')
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        given.update(height=height, width=width)
    wanted.update(given, seed=seed)
    return wanted


def _recorded_options(meta: Mapping) -> dict:
    """The options a generated dataset's meta.json records, with the seed; an option
    missing there was written before it existed, so the dataset has its default."""
    from dataclasses import asdict

    from sdc_mmaction.datasets.synthetic import SyntheticOptions

    recorded = dict(asdict(SyntheticOptions()), **meta.get('options', {}))
    recorded['seed'] = meta.get('seed', recorded.get('seed'))
    return recorded


def pretrain(work_dir: str, data_root: str, preset: Mapping, seed: int = 0,
             config: str = PRETRAIN_CONFIG, cfg_options: Sequence[str] = (),
             threads: Optional[int] = None, log_file: Optional[str] = None) -> str:
    """Run ``tools/train.py`` on ``config``; return the final checkpoint's path.

    ``cfg_options`` are extra ``key=value`` overrides for ``tools/train.py --cfg-options``,
    applied after the preset's. ``threads`` sets the child's ``OMP_NUM_THREADS`` and
    ``MKL_NUM_THREADS`` (default: inherit the environment). A work dir that already holds
    a run of other settings is refused rather than reused. ``log_file``: where the
    child's console output goes (default: this console); a failed run's error then
    names it and shows its end.
    """
    config = osp.abspath(config)
    cfg_options = [check_key_value(option) for option in cfg_options]
    ckpt = osp.join(work_dir, f'epoch_{preset["max_epochs"]}.pth')
    settings = dict(config=config, seed=seed, max_epochs=preset['max_epochs'],
                    batch_size=preset['batch_size'], cfg_options=cfg_options)
    if threads is not None:
        check_threads(threads)
    record = osp.join(work_dir, RUN_RECORD)
    if osp.isfile(record):
        with open(record) as handle:
            recorded = json.load(handle)
        # the thread count is recorded (it changes the numbers) but may differ on reuse
        if {key: value for key, value in recorded.items() if key != 'threads'} != settings:
            raise FileExistsError(
                f'{work_dir} holds a pretraining run with other settings ({recorded}) than '
                f'this one ({settings}); choose another --work-dir or delete the folder')
    if osp.isfile(ckpt):
        _log(f'reusing the pretraining checkpoint {ckpt}')
        return ckpt
    cmd = pretrain_command(work_dir, data_root, preset, seed, config, cfg_options)
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        cmd.append('--resume')  # an interrupted quick start goes on where it stopped
    os.makedirs(work_dir, exist_ok=True)
    env = None if threads is None else _thread_env(threads)
    with open(record, 'w') as handle:
        # what the child will use: torch may cap OMP_NUM_THREADS at the CPU count
        json.dump(dict(settings, threads=default_threads(env)), handle, indent=2)
    _log('pretraining: ' + ' '.join(cmd))
    if log_file is None:
        subprocess.run(cmd, check=True, cwd=REPO_ROOT, env=env)
    else:
        with open(log_file, 'w') as handle:
            proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, stdout=handle,
                                  stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            with open(log_file) as handle:
                tail = handle.read()[-3000:]
            raise RuntimeError(f'pretraining failed (exit {proc.returncode}); its output is '
                               f'in {log_file}, ending with:\n{tail}')
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'pretraining finished but {ckpt} was not written')
    return ckpt


def pretrained_threads(pretrain_dir: str) -> Optional[int]:
    """The CPU thread count the pretraining in ``pretrain_dir`` ran with (``None`` when
    its record predates this field)."""
    with open(osp.join(pretrain_dir, RUN_RECORD)) as handle:
        return json.load(handle).get('threads')


def default_threads(env: Optional[Mapping[str, str]] = None) -> int:
    """The thread count a new Python process starts torch with, in ``env`` (default: this
    process's environment): what the pretraining child uses. This process may have
    changed its own count with ``torch.set_num_threads``, so it is asked of a child."""
    out = subprocess.run([sys.executable, '-c', 'import torch; print(torch.get_num_threads())'],
                         check=True, capture_output=True, text=True,
                         env=None if env is None else dict(env))
    return int(out.stdout.strip().splitlines()[-1])


def threads_granted(threads: int) -> int:
    """How many threads a new process gets when ``threads`` are asked for through
    ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` (at most the CPU count)."""
    return default_threads(_thread_env(threads))


def _thread_env(threads: int) -> dict:
    """This process's environment, asking a child for ``threads`` CPU threads."""
    return dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


def check_threads(threads) -> int:
    """``threads`` if it is a positive integer, else a ``ValueError`` naming it."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f'threads must be a positive integer, got {threads!r}')
    return threads


def pretrain_command(work_dir: str, data_root: str, preset: Mapping, seed: int = 0,
                     config: str = PRETRAIN_CONFIG,
                     cfg_options: Sequence[str] = ()) -> list:
    """The ``tools/train.py`` command line (a list) that pretrains ``config`` on the
    generated dataset in ``data_root`` with ``preset``'s schedule and batch size, logging
    every 4 iterations; ``cfg_options`` come last, so they win."""
    return [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), osp.abspath(config),
            '--work-dir', work_dir, '--seed', str(seed), '--cfg-options',
            f'train_dataloader.dataset.data_root={data_root}',
            f'train_cfg.max_epochs={preset["max_epochs"]}',
            f'param_scheduler.0.T_max={preset["max_epochs"]}',
            f'train_dataloader.batch_size={preset["batch_size"]}',
            'default_hooks.logger.interval=4'] + list(cfg_options)


def trained_config(pretrain_dir: str, config: str = PRETRAIN_CONFIG) -> str:
    """The config mmengine dumped into ``pretrain_dir`` (every override applied), which
    builds exactly the model that was trained."""
    dumped = osp.join(pretrain_dir, osp.basename(config))
    if not osp.isfile(dumped):
        raise FileNotFoundError(f'{dumped} is missing: tools/train.py writes the config it '
                                f'ran there; rerun the pretraining into {pretrain_dir}')
    return dumped


def pretrain_sampling(config: str = PRETRAIN_CONFIG) -> dict:
    """``dict(clip_len, frame_interval)`` of the clips the pretraining config trains on, so
    that features are extracted from clips with the same motion per frame."""
    from mmengine.config import Config

    pipeline = Config.fromfile(config).train_dataloader.dataset.pipeline
    sampling = [step for step in pipeline if step['type'] == 'SampleFrames']
    if len(sampling) != 1:
        raise ValueError(f'{config}: expected one SampleFrames in the train pipeline, '
                         f'found {len(sampling)}')
    # the train pipeline samples one frame more, for the frame difference
    return dict(clip_len=int(sampling[0]['clip_len']) - 1,
                frame_interval=int(sampling[0].get('frame_interval', 1)))


def pretrain_frame_size(config: str = PRETRAIN_CONFIG) -> int:
    """The side of the square frames that the pretraining config trains on: the size its
    train pipeline's ``Resize`` gives every crop."""
    from mmengine.config import Config

    pipeline = Config.fromfile(config).train_dataloader.dataset.pipeline
    resizes = [step for step in pipeline if step['type'] == 'Resize']
    if len(resizes) != 1:
        raise ValueError(f'{config}: expected one Resize in the train pipeline, '
                         f'found {len(resizes)}')
    scale = resizes[0].get('scale')
    square = (isinstance(scale, (tuple, list)) and len(scale) == 2
              and isinstance(scale[0], int) and scale[0] == scale[1] and scale[0] > 0)
    if not square or resizes[0].get('keep_ratio', True):
        raise ValueError(f'{config}: the train pipeline\'s Resize must make square frames '
                         f'(scale=(S, S), keep_ratio=False), got {dict(resizes[0])}')
    return int(scale[0])


def extraction_clips(config: str, meta: Mapping) -> dict:
    """``feature_pipeline``'s clip settings for features of a model pretrained with
    ``config`` on the generated dataset that ``meta`` describes: clips sampled as in
    pretraining, at the frame size of pretraining (the videos' short side resized to it
    where it differs, e.g. the ``smoke`` preset's 32 px videos, which its config upsamples
    to 64 px in training), centre-cropped square."""
    size = pretrain_frame_size(config)
    short_side = min(meta['options']['height'], meta['options']['width'])
    return dict(pretrain_sampling(config), resize=None if short_side == size else size,
                crop_size=size)


#: the label sets of each variant of the generated dataset: name -> annotation stem
VARIANT_LABELS = OrderedDict(scenes=SCENE_LABELS,
                             motion_only=OrderedDict(motion='motion_only'))


def extract_all(checkpoint: Optional[str], data_root: str, meta: Mapping,
                num_clips: int, desc: str, config: str = PRETRAIN_CONFIG,
                variants: Sequence[str] = tuple(VARIANT_LABELS),
                features: Optional[Sequence[str]] = None, init_seed: int = 0,
                derive_views: Optional[bool] = None,
                model: Optional[torch.nn.Module] = None) -> dict:
    """Table 3 features of every list of ``variants`` (default: both), for one model
    (``checkpoint=None``: random), built from ``config`` and fed clips sampled as its
    training pipeline samples them. Returns ``(variant, split) -> (features, labels)``
    and ``'model'``.

    ``features``: the names to extract (default: Table 3's, the concept distributions
    and the derived views' features). ``init_seed`` seeds the model's initialisation,
    which is what a random model (``checkpoint=None``) is. ``derive_views``: see
    :func:`~sdc_mmaction.apis.concept_analysis.extract_concept_features`. ``model``:
    extract with this model instead of one built from ``config`` and ``checkpoint``;
    ``config`` then only sets the clips."""
    from .concept_analysis import extract_concept_features, labels_for_videos
    from .feature_extraction import build_model

    unknown = [variant for variant in variants if variant not in VARIANT_LABELS]
    if unknown or not variants:
        raise ValueError(f'extract_all: variants {list(variants)} must be a non-empty '
                         f'subset of {list(VARIANT_LABELS)}')
    if model is None:
        torch.manual_seed(init_seed)  # the random baseline is the same network every run
        model, _ = build_model(config, checkpoint)
    clips = extraction_clips(config, meta)
    videos = osp.join(data_root, 'videos')
    ann = osp.join(data_root, 'annotations')
    out = {}
    for variant in variants:
        stems = VARIANT_LABELS[variant]
        for split in ('train', 'val'):
            first = next(iter(stems.values()))
            feats, _, files = extract_concept_features(
                model, osp.join(ann, f'{split}_{first}.txt'), videos,
                features=(FEATURES + DISTRIBUTION_FEATURES + VIEW_FEATURES
                          if features is None else tuple(features)),
                **clips, num_clips=num_clips, batch_size=8,
                desc=f'{desc} {variant}/{split}', derive_views=derive_views)
            labels = OrderedDict(
                (name, labels_for_videos(files, osp.join(ann, f'{split}_{stem}.txt'),
                                         videos))
                for name, stem in stems.items())
            out[(variant, split)] = (feats, labels)
    out['model'] = model
    return out


def evaluate(extracted: Mapping) -> dict:
    """Linear probes of every feature on every label set, and retrieval of ``v``.

    For the paired tests of :func:`check_claims`, ``action_v_correct`` says which val
    videos the action probe of ``v`` got right, and ``concept_correct[labels][feature]``
    the same for the probes of the four concept features and the two concept
    distributions on the scene, motion and motion-only labels."""
    from sdc_mmaction.evaluation.metrics.retrieval_metric import retrieval_recall

    from .concept_analysis import probe_features

    results, outcomes = OrderedDict(), OrderedDict()
    for variant in ('scenes', 'motion_only'):
        train_feats, train_labels = extracted[(variant, 'train')]
        val_feats, val_labels = extracted[(variant, 'val')]
        results.update(probe_features(train_feats, val_feats, train_labels, val_labels,
                                      outcomes=outcomes))
    train_feats, train_labels = extracted[('scenes', 'train')]
    val_feats, val_labels = extracted[('scenes', 'val')]
    retrieval = retrieval_recall(val_feats['v'], val_labels['action'], train_feats['v'],
                                 train_labels['action'], topk=(1, 5, 10))
    return dict(probes=results, retrieval=retrieval,
                action_v_correct=outcomes['action']['v'],
                concept_correct=OrderedDict(
                    (labels, OrderedDict((f, outcomes[labels][f])
                                         for f in CONCEPT_FEATURES + DISTRIBUTION_FEATURES))
                    for labels in DECOUPLING_LABELS))


def _paired_level(margins: Mapping, level_name: str, key: str, results) -> Optional[list]:
    """The outcomes the paired test at ``margins[level_name]`` needs (one list per
    ``(model, result)`` pair), or None where the level is absent or None (no test)."""
    if margins.get(level_name) is None:
        return None
    for model, res in results:
        if key not in res:
            raise KeyError(f'quick-start checks: the paired test ({level_name}='
                           f'{margins[level_name]}) needs {key} in the {model} results')
    return [res[key] for _, res in results]


def _sign_test(alpha: float, outcomes_a, outcomes_b, names) -> Tuple[bool, str]:
    from sdc_mmaction.evaluation.paired_test import paired_sign_test

    test = paired_sign_test(outcomes_a, outcomes_b)
    return (test['p_value'] < alpha,
            f'and the paired sign test over the {len(outcomes_a)} val videos: only '
            f'{names[0]} right on {test["only_a"]}, only {names[1]} on '
            f'{test["only_b"]}, p = {test["p_value"]:.3f}, needs < {alpha:g}')


def _check(lhs: float, rhs: float, margin: float, text: str, also=None) -> dict:
    passed = bool(lhs >= rhs + margin)
    detail = (f'{text}: {100 * lhs:.1f} vs {100 * rhs:.1f} '
              f'(needs a lead of {100 * margin:.0f} points')
    if also is not None:
        passed = passed and also[0]
        detail += f'; {also[1]}'
    return dict(passed=passed, detail=detail + ')')


def check_claims(sdc: Mapping, random: Mapping, margins: Mapping) -> 'OrderedDict[str, dict]':
    """What SDC should show, each as ``dict(passed, detail)``.

    ``margins``: ``action_over_random`` and ``decoupling`` are the leads (accuracies in
    [0, 1]) the checks ask for. Two optional levels (None or absent: no test) also ask for
    the one-sided paired sign test
    (:func:`~sdc_mmaction.evaluation.paired_test.paired_sign_test`) over the val videos
    both probes scored: ``action_p_value`` for SDC's lead over the random model on the
    action label (needs ``action_v_correct`` in ``sdc`` and ``random``),
    ``decoupling_p_value`` for the three decoupling leads (needs ``concept_correct`` in
    ``sdc``). The decoupling checks compare the paper's concept features (``q_v^s`` or
    ``F_v^s`` against ``q_v^d`` or ``F_v^d``, the better of each pair).
    """
    p, r = sdc['probes'], random['probes']
    checks = OrderedDict()
    paired = _paired_level(margins, 'action_p_value', 'action_v_correct',
                           (('sdc', sdc), ('random', random)))
    if paired is not None:
        paired = _sign_test(margins['action_p_value'], *paired, ('SDC', 'random'))
    checks['beats_random_on_action'] = _check(
        p['action']['v'], r['action']['v'], margins['action_over_random'],
        'action label, v: SDC vs random', also=paired)
    checks.update(decoupling_checks(sdc, margins, ('q_v_s', 'F_v_s'), ('q_v_d', 'F_v_d')))
    return checks


def decoupling_checks(sdc: Mapping, margins: Mapping, static_features: Sequence[str],
                      dynamic_features: Sequence[str]) -> 'OrderedDict[str, dict]':
    """Static features read the scene better than the motion, dynamic ones the reverse,
    and on the motion-only variant the best dynamic feature beats the best static one;
    each check uses the feature of its group that does best at it (see
    :func:`check_claims` for ``margins``)."""
    p = sdc['probes']
    decoupled = _paired_level(margins, 'decoupling_p_value', 'concept_correct',
                              (('sdc', sdc), ))
    decoupled = None if decoupled is None else decoupled[0]
    checks = OrderedDict()

    def add(name, lead, trail, text, names):
        """``lead``/``trail``: (label set, feature) whose probe should lead/trail."""
        paired = None
        if decoupled is not None:
            paired = _sign_test(margins['decoupling_p_value'], decoupled[lead[0]][lead[1]],
                                decoupled[trail[0]][trail[1]], names)
        checks[name] = _check(p[lead[0]][lead[1]], p[trail[0]][trail[1]],
                              margins['decoupling'], text, also=paired)

    static_feat = max(static_features, key=lambda f: p['static'][f] - p['dynamic'][f])
    dynamic_feat = max(dynamic_features, key=lambda f: p['dynamic'][f] - p['static'][f])
    add('static_features_know_the_scene', ('static', static_feat), ('dynamic', static_feat),
        f'SDC {static_feat}: scene label vs motion label',
        ('the scene probe', 'the motion probe'))
    add('dynamic_features_know_the_motion', ('dynamic', dynamic_feat),
        ('static', dynamic_feat), f'SDC {dynamic_feat}: motion label vs scene label',
        ('the motion probe', 'the scene probe'))
    motion_dyn = max(dynamic_features, key=lambda f: p['motion'][f])
    motion_sta = max(static_features, key=lambda f: p['motion'][f])
    best = 'best ' if len(static_features) > 1 or len(dynamic_features) > 1 else ''
    add('motion_only_dynamic_beats_static', ('motion', motion_dyn), ('motion', motion_sta),
        f'motion-only variant: {best}dynamic vs {best}static '
        f'feature ({motion_dyn} vs {motion_sta})', (motion_dyn, motion_sta))
    return checks


#: the compact table's features: the clip's pooled feature and its two halves' codes
SUMMARY_FEATURES = ('v', 'q_v_s', 'q_v_d')
#: the compact table's rows: label set -> what it reads
SUMMARY_LABELS = OrderedDict(action='action', static='scene', dynamic='motion',
                             motion='motion, one scene')


def _check_lines(checks: Mapping) -> list:
    return [f'- [{"x" if check["passed"] else " "}] {name}: {check["detail"]}'
            for name, check in checks.items()]


def format_summary(sdc: Mapping, random: Mapping, checks: Mapping) -> str:
    """The report's opening (markdown): one table of linear-probe accuracy, SDC against
    the random model, of ``v``, ``q_v^s`` and ``q_v^d`` on the four label sets, then
    whether each claim holds."""
    header = ' | '.join(f'{name} {f}' for name in ('SDC', 'random') for f in SUMMARY_FEATURES)
    lines = ['## Summary: linear probe, top-1 (%) on the val videos', '',
             f'| labels | {header} |', '|---|' + '---|' * (2 * len(SUMMARY_FEATURES))]
    for label, text in SUMMARY_LABELS.items():
        cells = [f'{100 * res["probes"][label][f]:.1f}'
                 for res in (sdc, random) for f in SUMMARY_FEATURES]
        lines.append(f'| {text} | ' + ' | '.join(cells) + ' |')
    held = sum(check['passed'] for check in checks.values())
    lines += ['', f'## Claims: {held} of {len(checks)} hold', '', *_check_lines(checks)]
    return '\n'.join(lines)


def format_results(sdc: Mapping, random: Mapping, checks: Mapping) -> str:
    """The full tables (markdown): every probe of the paper's features, of the static
    frame's and the frame difference's own features, of the concept distributions, and
    retrieval; the checks are in :func:`format_summary`."""

    def probe_table(features):
        rows = ['| model | labels | ' + ' | '.join(features) + ' |',
                '|---|---|' + '---|' * len(features)]
        for name, res in (('SDC', sdc), ('random', random)):
            for label, row in res['probes'].items():
                rows.append(f'| {name} | {label} | ' +
                            ' | '.join(f'{100 * row[f]:.1f}' for f in features) + ' |')
        return rows

    lines = ['## Linear probe, top-1 (%) on the val videos', '', *probe_table(FEATURES)]
    lines += ['', "## The static frame's and the frame difference's own features", '',
              'Probed as above, from views derived from each clip: s repeats its centre '
              'frame, d holds the differences of its adjacent frames. Their codes are where '
              "the clip's static and dynamic halves take their Sinkhorn targets from.", '',
              *probe_table(VIEW_FEATURES)]
    lines += ['', "## The concept distributions that Eq. 4 predicts from the clip's codes",
              '', 'p_v_s = softmax(q_v_s / tau) and p_v_d = softmax(q_v_d / tau), with the '
              "align head's tau, probed as above. The alignment sees only these: not a "
              "shift shared by all of a half's codes, nor small differences far below its "
              'largest code. Not symbols of the paper.', '',
              *probe_table(DISTRIBUTION_FEATURES)]
    keys = list(sdc['retrieval'])
    lines += ['', '## Retrieval of v, action label (val videos query the training videos)',
              '', '| model | ' + ' | '.join(keys) + ' |', '|---|' + '---|' * len(keys)]
    for name, res in (('SDC', sdc), ('random', random)):
        lines.append(f'| {name} | ' +
                     ' | '.join(f'{100 * res["retrieval"][k]:.1f}' for k in keys) + ' |')
    return '\n'.join(lines)


def run_quickstart(work_dir: str = 'work_dirs/quickstart',
                   data_root: Optional[str] = None,
                   preset: str = 'default',
                   seed: int = 0,
                   figures: bool = True,
                   config: Optional[str] = None,
                   max_epochs: Optional[int] = None,
                   cfg_options: Sequence[str] = (),
                   data_seed: Optional[int] = None,
                   threads: Optional[int] = None) -> dict:
    """The whole quick start; returns the results (also written to ``work_dir``).

    ``threads`` is the number of CPU threads for the pretraining and the evaluation
    (default: what the environment gives, e.g. ``OMP_NUM_THREADS``). The numbers depend
    on it, since it changes the order of floating-point sums, so the report records it.

    ``config`` (default: the preset's), ``max_epochs`` and ``cfg_options`` (``key=value``
    strings) change what is pretrained, e.g. a variant of the CPU-scale study
    (``projects/cpu_scale_study/configs``) or a longer schedule; the evaluation is the
    same. By default the README's quick start
    runs. ``seed`` seeds the pretraining and, unless ``data_seed`` is given, the generated
    dataset too.
    """
    previous_threads = torch.get_num_threads()
    if threads is not None:
        # the same count as the pretraining child really gets: torch caps
        # OMP_NUM_THREADS at the CPU count there, not in set_num_threads here
        granted = threads_granted(check_threads(threads))
        if granted != threads:
            _log(f'asked for {threads} CPU threads; this machine gives {granted}, '
                 f'used for the pretraining and the evaluation alike')
        torch.set_num_threads(granted)
    try:  # the caller's thread count comes back afterwards (tests run many quick starts)
        return _run_quickstart(work_dir, data_root, preset, seed, figures, config,
                               max_epochs, cfg_options, data_seed, threads)
    finally:
        torch.set_num_threads(previous_threads)


def _run_quickstart(work_dir, data_root, preset, seed, figures, config, max_epochs,
                    cfg_options, data_seed, threads) -> dict:
    import sdc_mmaction  # noqa: F401  (registration)
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose from {list(PRESETS)}')
    settings = dict(PRESETS[preset])
    if max_epochs is not None:
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f'max_epochs must be a positive integer, got {max_epochs!r}')
        settings['max_epochs'] = max_epochs
    preset_config = osp.abspath(settings['config'])
    config = preset_config if config is None else config
    if not osp.isfile(config):
        raise FileNotFoundError(f'pretraining config {config} does not exist')
    config = osp.abspath(config)
    cfg_options = [check_key_value(option) for option in cfg_options]  # before any work
    threads_used = torch.get_num_threads()
    work_dir = osp.abspath(work_dir)
    data_root = osp.abspath(data_root or osp.join(work_dir, 'data'))
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()

    data_seed = seed if data_seed is None else data_seed
    meta = prepare_dataset(data_root, settings['dataset'], seed=data_seed)
    pretrain_dir = osp.join(work_dir, 'pretrain')
    ckpt = pretrain(pretrain_dir, data_root, settings, seed=seed, config=config,
                    cfg_options=cfg_options, threads=threads)
    model_config = trained_config(pretrain_dir, config)

    from .checkpoint import convert_pretrained
    backbone = osp.join(work_dir, 'sdc_backbone.pth')
    convert_pretrained(ckpt, backbone)
    _log(f'backbone for MMAction2 recognizers: {backbone}')

    num_clips = settings['num_clips']
    sdc_feats = extract_all(ckpt, data_root, meta, num_clips, 'SDC', model_config)
    random_feats = extract_all(None, data_root, meta, num_clips, 'random', model_config)
    sdc, random = evaluate(sdc_feats), evaluate(random_feats)
    checks = check_claims(sdc, random, settings['margins'])

    figure_files = {}
    if figures:
        from sdc_mmaction.visualization import quickstart_figures
        figure_files = quickstart_figures(
            osp.join(work_dir, 'figures'), sdc_feats, meta, data_root, pretrain_dir,
            clips=extraction_clips(model_config, meta))

    pretrain_threads = pretrained_threads(pretrain_dir)
    preamble = (f'CPU threads: {pretrain_threads or "not recorded"} for the pretraining, '
                f'{threads_used} for the evaluation (other thread counts give other '
                'numbers).')
    if config != preset_config or cfg_options or max_epochs is not None:
        # not the preset's run: say what was pretrained above the numbers
        shown = (osp.relpath(config, REPO_ROOT)
                 if config.startswith(REPO_ROOT + osp.sep) else config)
        preamble = (f'Pretrained with {shown}, {settings["max_epochs"]} '
                    f'epochs, seed {seed}, overrides: {" ".join(cfg_options) or "none"}. '
                    '"SDC" below is this model.\n\n' + preamble)
    summary = preamble + '\n\n' + format_summary(sdc, random, checks)
    elapsed = time.time() - start
    report = dict(preset=preset, seed=seed, data_seed=data_seed, data_root=data_root,
                  config=config,
                  max_epochs=settings['max_epochs'], cfg_options=list(cfg_options),
                  threads=threads_used, pretrain_threads=pretrain_threads,
                  checkpoint=ckpt, backbone=backbone,
                  sdc=sdc, random=random, checks=checks,
                  figures=figure_files,
                  elapsed_s=round(elapsed, 1))
    with open(osp.join(work_dir, 'results.json'), 'w') as handle:
        json.dump(report, handle, indent=2)
    results_md = osp.join(work_dir, 'results.md')
    with open(results_md, 'w') as handle:
        handle.write(summary + '\n\n' + format_results(sdc, random, checks) + '\n')
    print('\n' + summary + '\n', flush=True)
    _log(f'full tables: {results_md}; numbers: {osp.join(work_dir, "results.json")}')
    for name, path in figure_files.items():
        _log(f'figure {name}: {path}')
    _log(f'finished in {elapsed / 60:.1f} min')
    return report
