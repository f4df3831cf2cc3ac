"""Several pretraining runs side by side on one machine, and what their training logs say.

A diagnosis like the study's (does the dynamic half learn; when does it start; which
term holds it back) needs the same run on several seeds and settings, and reads each one
off its training log. This module runs such a *sweep* (``projects/cpu_scale_study/tools/sweep.py`` is its CLI) and
summarises it in one table, so that a short lease of a bigger machine is one command.

A sweep file is a Python file read with mmengine's ``Config``::

    preset = 'default'              # quick-start preset: dataset, batch size (optional)
    data_seed = 0                   # seed of the generated dataset (optional)
    cfg_options = ['...']           # overrides for every run (optional)
    summary = dict(key='aln_dynamic', threshold=1.2, window=48)   # (optional)
    runs = [
        dict(name='labels_seed0',    # folder under the sweep's work dir
             config='projects/cpu_scale_study/configs/sdc-label-targets_r2plus1d-tiny_synthetic.py',
             seed=0, max_epochs=60,
             cfg_options=['model.align_head.fidelity_weight=0'],   # optional
             evaluate=False),        # optional: True runs the quick start's evaluation
    ]

Each run is ``tools/train.py`` (``evaluate=False``) or ``tools/quickstart.py`` (``True``)
in a child process of its own, with the quick start's overrides (data root, schedule,
batch size, logging every 4 iterations), then the sweep's, then the run's. At most
``max_parallel`` run at once. After ``deadline_s`` seconds no run is started and the
running ones are stopped; their logs still count, marked as stopped.

What the summary reads from a run's log (mmengine's ``vis_data/scalars.json``):

- ``onset``: the first logged iteration at which the mean of ``key`` over the last
  ``window`` iterations is below ``threshold`` (``None``: never). For the label-target
  diagnostic, ``aln_dynamic`` below 1.2 (uniform over four motions: ln 4 = 1.39) means
  the clip has started to see the motion;
- ``last``: the mean of ``key`` over the last ``window`` logged iterations, and its range;
- ``loc_nonzero``: the share of logged iterations in which ``loss_loc`` was not 0: it is
  0 during the warm-up and whenever Eq. 8 keeps no concept in the batch, so this says how
  much of the run L_loc acted at all;
- for evaluated runs, the quick start's checks and the probes behind them.
"""
import json
import math
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time
from typing import Dict, List, Mapping, Optional, Sequence

from sdc_mmaction.apis.config_options import check_key_value

#: the repository root: run configs are given relative to it
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))

#: keys a run may have, and whether it must
RUN_KEYS = dict(name=True, config=True, seed=True, max_epochs=True, cfg_options=False,
                evaluate=False)
SUMMARY_DEFAULTS = dict(key='aln_dynamic', threshold=1.2, window=48)
_NAME = re.compile(r'^[A-Za-z0-9._-]+$')


def load_sweep(path: str) -> dict:
    """Read and check a sweep file; return ``dict(runs, preset, data_seed, cfg_options,
    summary)`` with every run's optional keys filled in.

    Raises:
        ValueError: naming the file, the run and the key, for a missing or unknown key, a
            name that is not a plain folder name or is used twice, a non-positive
            ``max_epochs``, or a config that does not exist.
    """
    from mmengine.config import Config

    from sdc_mmaction.apis.quickstart import PRESETS

    cfg = Config.fromfile(path)
    runs = cfg.get('runs')
    if not isinstance(runs, (list, tuple)) or not runs:
        raise ValueError(f'{path}: `runs` must be a non-empty list of dicts')
    preset = cfg.get('preset', 'default')
    if preset not in PRESETS:
        raise ValueError(f'{path}: preset={preset!r} is unknown; choose from {list(PRESETS)}')
    summary = dict(SUMMARY_DEFAULTS, **dict(cfg.get('summary', {})))
    unknown = set(summary) - set(SUMMARY_DEFAULTS)
    if unknown:
        raise ValueError(f'{path}: summary has unknown keys {sorted(unknown)}; '
                         f'expected {sorted(SUMMARY_DEFAULTS)}')
    shared_options = [check_key_value(o, f'{path}: cfg_options')
                      for o in cfg.get('cfg_options', [])]
    checked, names = [], set()
    for index, run in enumerate(runs):
        where = f'{path}: runs[{index}]'
        if not isinstance(run, Mapping):
            raise ValueError(f'{where} is a {type(run).__name__}, not a dict')
        missing = [k for k, required in RUN_KEYS.items() if required and k not in run]
        extra = sorted(set(run) - set(RUN_KEYS))
        if missing or extra:
            raise ValueError(f'{where}: missing keys {missing}, unknown keys {extra} '
                             f'(a run has {list(RUN_KEYS)})')
        name = run['name']
        if not isinstance(name, str) or not _NAME.match(name) or name in names:
            raise ValueError(f'{where}: name={name!r} must be unique and made of letters, '
                             'digits, ".", "_" and "-"')
        names.add(name)
        epochs = run['max_epochs']
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f'{where} ({name}): max_epochs={epochs!r} must be a positive '
                             'integer')
        if isinstance(run['seed'], bool) or not isinstance(run['seed'], int):
            raise ValueError(f'{where} ({name}): seed={run["seed"]!r} must be an integer')
        config = osp.join(REPO_ROOT, run['config'])
        if not osp.isfile(config):
            raise ValueError(f'{where} ({name}): config {run["config"]!r} does not exist '
                             f'(paths are relative to {REPO_ROOT})')
        checked.append(dict(
            name=name, config=config, seed=run['seed'], max_epochs=epochs,
            cfg_options=[check_key_value(o, f'{where}: cfg_options')
                         for o in run.get('cfg_options', [])],
            evaluate=bool(run.get('evaluate', False))))
    return dict(runs=checked, preset=preset, data_seed=int(cfg.get('data_seed', 0)),
                cfg_options=shared_options, summary=summary)


def select_runs(sweep: Mapping, only: Sequence[str] = ()) -> List[dict]:
    """The sweep's runs named in ``only`` (all when empty), in the sweep's order."""
    runs = list(sweep['runs'])
    if only:
        unknown = sorted(set(only) - {r['name'] for r in runs})
        if unknown:
            raise ValueError(f'--only names {unknown} are not runs of the sweep')
        runs = [r for r in runs if r['name'] in set(only)]
    return runs


def _diagnostics(run_dir: str) -> dict:
    """The study's diagnostics of an evaluated run (``diagnostics.json``), computed
    once from the run's checkpoint and kept beside its results."""
    from .quickstart_diagnostics import diagnose_quickstart

    cached = osp.join(run_dir, 'diagnostics.json')
    if osp.isfile(cached):
        with open(cached) as handle:
            return json.load(handle)
    return diagnose_quickstart(run_dir)


def run_command(run: Mapping, run_dir: str, data_root: str, preset: str,
                shared_options: Sequence[str] = (), data_seed: int = 0,
                extra_options: Sequence[str] = ()) -> List[str]:
    """The command line of one run (see the module docstring); ``extra_options`` come
    after the sweep's and the run's overrides, so they win."""
    from sdc_mmaction.apis.quickstart import PRESETS, pretrain_command

    options = list(shared_options) + list(run['cfg_options']) + list(extra_options)
    if not run['evaluate']:
        settings = dict(PRESETS[preset], max_epochs=run['max_epochs'])
        return pretrain_command(run_dir, data_root, settings, run['seed'], run['config'],
                                options)
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'quickstart.py'),
           '--work-dir', run_dir, '--data-root', data_root, '--preset', preset,
           '--config', run['config'], '--max-epochs', str(run['max_epochs']),
           '--seed', str(run['seed']), '--data-seed', str(data_seed), '--no-figures']
    if options:
        cmd += ['--cfg-options'] + options
    return cmd


def run_sweep(sweep: Mapping, work_dir: str, data_root: str, max_parallel: int = 1,
              deadline_s: Optional[float] = None, threads_per_run: Optional[int] = None,
              only: Sequence[str] = (), extra_options: Sequence[str] = (),
              poll_s: float = 1.0) -> List[dict]:
    """Run ``sweep`` (from :func:`load_sweep`) and return one status dict per run:
    ``name``, ``status`` (``finished``, ``failed``, ``stopped`` or ``not started``),
    ``returncode``, ``seconds``, ``run_dir`` and ``log`` (the child's output).

    The dataset of the sweep's preset is generated into ``data_root`` first (or reused).
    ``threads_per_run`` sets each child's ``OMP_NUM_THREADS`` (default: the CPUs shared
    out among ``max_parallel`` runs). ``only`` keeps the runs of those names.
    ``extra_options`` (``key=value``) override every run last, e.g. the data loader
    settings of the machine at hand.
    """
    from sdc_mmaction.apis.quickstart import PRESETS, prepare_dataset

    extra_options = [check_key_value(o, 'extra cfg_options') for o in extra_options]
    if max_parallel < 1:
        raise ValueError(f'max_parallel must be at least 1, got {max_parallel}')
    runs = select_runs(sweep, only)
    work_dir, data_root = osp.abspath(work_dir), osp.abspath(data_root)
    # a run folder that holds an earlier run would mix two runs' logs in one summary
    used = [osp.join(work_dir, r['name']) for r in runs
            if osp.isdir(osp.join(work_dir, r['name']))
            and os.listdir(osp.join(work_dir, r['name']))]
    if used:
        raise FileExistsError(f'{used[0]} holds an earlier run ({len(used)} run folders of '
                              f'this sweep do); choose another work dir or delete them')
    os.makedirs(work_dir, exist_ok=True)
    prepare_dataset(data_root, PRESETS[sweep['preset']]['dataset'], seed=sweep['data_seed'])
    threads = threads_per_run or max(1, (os.cpu_count() or 1) // max_parallel)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')

    start = time.time()
    pending = list(runs)
    running: Dict[str, tuple] = {}
    results: Dict[str, dict] = {}
    try:
        _loop(pending, running, results, start, work_dir, data_root, sweep, env,
              max_parallel, deadline_s, poll_s, extra_options)
    finally:
        # the runs have sessions of their own, so Ctrl-C or an error here would not reach
        # them: stop whatever is still running
        for proc, _, handle, _ in running.values():
            _stop(proc)
            handle.close()
    return [results[r['name']] for r in runs]


def _loop(pending, running, results, start, work_dir, data_root, sweep, env,
          max_parallel, deadline_s, poll_s, extra_options) -> None:
    while pending or running:
        late = deadline_s is not None and time.time() - start >= deadline_s
        for name, (proc, began, handle, status) in list(running.items()):
            if proc.poll() is None and not late:
                continue
            if proc.poll() is None:
                _stop(proc)
                status['status'] = 'stopped'
            else:
                status['status'] = 'finished' if proc.returncode == 0 else 'failed'
            status['returncode'] = proc.returncode
            status['seconds'] = round(time.time() - began, 1)
            handle.close()
            results[name] = status
            del running[name]
            print(f'[sweep] {name}: {status["status"]} after {status["seconds"]} s',
                  flush=True)
        while pending and len(running) < max_parallel and not late:
            run = pending.pop(0)
            run_dir = osp.join(work_dir, run['name'])
            os.makedirs(run_dir, exist_ok=True)
            log = osp.join(work_dir, f'{run["name"]}.log')
            cmd = run_command(run, run_dir, data_root, sweep['preset'],
                              sweep['cfg_options'], sweep['data_seed'], extra_options)
            handle = open(log, 'w')
            handle.write(' '.join(cmd) + '\n')
            handle.flush()
            # a session of its own, so that stopping a run stops its children too
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=handle,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            print(f'[sweep] started {run["name"]}: {log}', flush=True)
            running[run['name']] = (proc, time.time(), handle, dict(
                name=run['name'], run_dir=run_dir, log=log, evaluate=run['evaluate']))
        if late:
            for run in pending:
                results[run['name']] = dict(
                    name=run['name'], status='not started', returncode=None, seconds=0.0,
                    run_dir=osp.join(work_dir, run['name']), log=None,
                    evaluate=run['evaluate'])
            pending.clear()
        if running:
            time.sleep(poll_s)


def _stop(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def onset(steps: Sequence[int], values: Sequence[float], threshold: float,
          window: int) -> Optional[int]:
    """The first step at which the mean of ``values`` logged in the last ``window``
    iterations (steps in ``(step - window, step]``) is below ``threshold``, counting only
    steps with a full window behind them; ``None`` if there is none."""
    if len(steps) != len(values):
        raise ValueError(f'{len(steps)} steps but {len(values)} values')
    for i, step in enumerate(steps):
        # a full window reaches back to the first logged step
        if step - window < steps[0] - _interval(steps):
            continue
        window_values = [v for s, v in zip(steps[:i + 1], values[:i + 1]) if s > step - window]
        if sum(window_values) / len(window_values) < threshold:
            return step
    return None


def _interval(steps: Sequence[int]) -> int:
    return steps[1] - steps[0] if len(steps) > 1 else 1


def summarise_log(records: Sequence[Mapping], key: str = 'aln_dynamic',
                  threshold: float = 1.2, window: int = 48) -> dict:
    """What one run's training records (``read_scalars``) say; see the module docstring.
    A key that was never logged gives ``None`` values rather than an error, so that a
    stopped or failed run still has its row."""
    points = [(int(r['step']), float(r[key])) for r in records if key in r]
    out = dict(iterations=max((int(r['step']) for r in records), default=0),
               onset=None, last=None, low=None, high=None, loc_nonzero=None)
    if points:
        steps, values = [p[0] for p in points], [p[1] for p in points]
        bad = [s for s, v in points if not math.isfinite(v)]
        if bad:
            raise ValueError(f'{key} is not finite at iteration {bad[0]}')
        out['onset'] = onset(steps, values, threshold, window)
        last = [v for s, v in points if s > steps[-1] - window]
        out.update(last=sum(last) / len(last), low=min(values), high=max(values))
    # the local head logs its loss times its weight: 0 during the warm-up, and 0 when Eq. 8
    # keeps no concept in the whole batch
    loc = [float(r['loss_loc']) for r in records if 'loss_loc' in r]
    if loc:
        out['loc_nonzero'] = sum(v != 0.0 for v in loc) / len(loc)
    return out


def summarise_sweep(statuses: Sequence[Mapping], key: str = 'aln_dynamic',
                    threshold: float = 1.2, window: int = 48) -> List[dict]:
    """One row per run: its status, :func:`summarise_log` of its log and, for evaluated
    runs that finished, the quick start's probes and checks."""
    from sdc_mmaction.visualization.figures import read_scalars

    rows = []
    for status in statuses:
        row = dict(status)
        log_dir = osp.join(status['run_dir'], 'pretrain') if status['evaluate'] \
            else status['run_dir']
        try:
            records = read_scalars(log_dir)
        except FileNotFoundError:
            records = []
        row.update(summarise_log(records, key, threshold, window))
        results = osp.join(status['run_dir'], 'results.json')
        if status['evaluate'] and osp.isfile(results):
            with open(results) as handle:
                report = json.load(handle)
            row['checks'] = {name: bool(c['passed']) for name, c in report['checks'].items()}
            diagnostics = _diagnostics(status['run_dir'])
            # the same decoupling checks of p_v^s / p_v^d
            row['distribution_checks'] = {
                name: bool(c['passed'])
                for name, c in diagnostics['distribution_checks'].items()}
            # and of the codes q_v^s / q_v^d alone
            row['code_checks'] = {
                name: bool(c['passed'])
                for name, c in diagnostics['family_checks']['codes'].items()}
            probes = report['sdc']['probes']
            row['motion_only_v'] = probes['motion']['v']
            row['motion_only_q_v_d'] = probes['motion']['q_v_d']
            row['action_v'] = probes['action']['v']
            row['random_action_v'] = report['random']['probes']['action']['v']
        rows.append(row)
    return rows


def format_summary(rows: Sequence[Mapping], key: str = 'aln_dynamic',
                   threshold: float = 1.2, window: int = 48) -> str:
    """The sweep's rows as a markdown table."""
    def num(value, digits=2):
        return '-' if value is None else f'{value:.{digits}f}'

    def pct(value):
        return '-' if value is None else f'{100 * value:.1f}'

    lines = [f'onset: first iteration with the {window}-iteration mean of `{key}` below '
             f'{threshold}; last: its mean over the last {window} logged iterations; '
             'L_loc non-zero: share of logged iterations with `loss_loc` not 0 (it is 0 in '
             'the warm-up and when Eq. 8 keeps no concept).', '',
             f'| run | status | iterations | onset | last `{key}` (range) | L_loc non-zero | '
             'motion-only v / q_v^d | action v (random) | checks passed | '
             'p_v checks passed | q_v checks passed |',
             '|---|---|---|---|---|---|---|---|---|---|---|']

    def passed_of(checks):
        return '-' if checks is None else f'{sum(checks.values())} of {len(checks)}'

    for r in rows:
        passed = passed_of(r.get('checks'))
        lines.append(
            f'| {r["name"]} | {r["status"]} | {r["iterations"]} | '
            f'{"never" if r["onset"] is None and r["last"] is not None else num(r["onset"], 0)}'
            f' | {num(r["last"])} ({num(r["low"])}-{num(r["high"])}) | '
            f'{num(r["loc_nonzero"])} | {pct(r.get("motion_only_v"))} / '
            f'{pct(r.get("motion_only_q_v_d"))} | {pct(r.get("action_v"))} '
            f'({pct(r.get("random_action_v"))}) | {passed} | '
            f'{passed_of(r.get("distribution_checks"))} | '
            f'{passed_of(r.get("code_checks"))} |')
    return '\n'.join(lines)
