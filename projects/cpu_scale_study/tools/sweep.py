#!/usr/bin/env python
"""Run a sweep of pretraining runs side by side and summarise their training logs.

    python projects/cpu_scale_study/tools/sweep.py \
        projects/cpu_scale_study/configs/sweeps/gpu_sweep.py --work-dir work_dirs/sweep \
        [--data-root DIR] [--max-parallel 2] [--deadline-s 3600] [--only NAME ...] \
        [--cfg-options KEY=VALUE ...]

Writes WORK_DIR/NAME.log per run, WORK_DIR/summary.md and WORK_DIR/summary.json, and
prints the table. ``--dry-run`` prints the commands only; ``--summarise`` reads an
earlier sweep's work dir again. See ``cpu_scale_study/apis/sweep.py`` for the sweep file.
"""
import argparse
import json
import os.path as osp
import sys

# the repository root, three folders up, so that `projects.` and `sdc_mmaction` import
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..')))

import projects.cpu_scale_study.cpu_scale_study  # noqa: E402,F401  (registration)
from projects.cpu_scale_study.cpu_scale_study.apis.sweep import (  # noqa: E402
    format_summary, load_sweep, run_command, run_sweep, select_runs, summarise_sweep)

STATUS_FILE = 'sweep_status.json'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('sweep', help='sweep file (see sdc_mmaction/apis/sweep.py)')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--data-root', default=None,
                        help='generated dataset (default: WORK_DIR/data; made if missing)')
    parser.add_argument('--max-parallel', type=int, default=1,
                        help='runs at once (default 1)')
    parser.add_argument('--deadline-s', type=float, default=None,
                        help='start no run after this many seconds, and stop the running '
                             'ones (their logs are summarised as they are)')
    parser.add_argument('--threads-per-run', type=int, default=None,
                        help='OMP_NUM_THREADS of each run (default: CPUs / max-parallel)')
    parser.add_argument('--only', nargs='+', default=(), metavar='NAME',
                        help='run only these runs of the sweep')
    parser.add_argument('--cfg-options', nargs='+', default=(), metavar='KEY=VALUE',
                        help="overrides for every run, after the sweep's and the run's "
                             '(e.g. train_dataloader.num_workers=0 on a small machine)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--dry-run', action='store_true', help='print the commands only')
    group.add_argument('--summarise', action='store_true',
                       help='summarise the runs already in WORK_DIR, run nothing')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sweep = load_sweep(args.sweep)
    work_dir = osp.abspath(args.work_dir)
    data_root = osp.abspath(args.data_root or osp.join(work_dir, 'data'))
    status_file = osp.join(work_dir, STATUS_FILE)
    if args.dry_run:
        for run in select_runs(sweep, args.only):
            print(' '.join(run_command(run, osp.join(work_dir, run['name']), data_root,
                                       sweep['preset'], sweep['cfg_options'],
                                       sweep['data_seed'], args.cfg_options)))
        return
    if args.summarise:
        if not osp.isfile(status_file):
            sys.exit(f'{status_file} is missing: no sweep has run in {work_dir}')
        with open(status_file) as handle:
            statuses = json.load(handle)
    else:
        statuses = run_sweep(sweep, work_dir, data_root, max_parallel=args.max_parallel,
                             deadline_s=args.deadline_s,
                             threads_per_run=args.threads_per_run, only=args.only,
                             extra_options=args.cfg_options)
        with open(status_file, 'w') as handle:
            json.dump(statuses, handle, indent=2)
    rows = summarise_sweep(statuses, **sweep['summary'])
    table = format_summary(rows, **sweep['summary'])
    with open(osp.join(work_dir, 'summary.json'), 'w') as handle:
        json.dump(rows, handle, indent=2)
    with open(osp.join(work_dir, 'summary.md'), 'w') as handle:
        handle.write(f'Sweep {args.sweep}\n\n{table}\n')
    print('\n' + table, flush=True)
    failed = [r['name'] for r in rows if r['status'] == 'failed']
    if failed:
        sys.exit(f'runs failed (see their logs in {work_dir}): {", ".join(failed)}')


if __name__ == '__main__':
    main()
