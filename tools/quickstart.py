#!/usr/bin/env python
"""The whole SDC job on one CPU machine: generate a static/dynamic video dataset, pretrain,
evaluate against a random backbone, draw the pictures. See sdc_mmaction/apis/quickstart.py.

    python tools/quickstart.py [--work-dir work_dirs/quickstart] [--preset default|ci|smoke]

Another pretraining config or schedule, with the same evaluation, e.g. the CPU-scale
study's two-tower variant (projects/cpu_scale_study/README.md):

    python tools/quickstart.py --work-dir work_dirs/two-tower --max-epochs 32 \
        --config projects/cpu_scale_study/configs/sdc-two-tower_r2plus1d-tiny_synthetic.py
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sdc_mmaction  # noqa: E402,F401
from sdc_mmaction.apis.quickstart import (PRESETS, PRETRAIN_CONFIG,  # noqa: E402
                                          REPO_ROOT, run_quickstart)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    parser.add_argument('--data-root', default=None,
                        help='where the generated dataset goes (default: WORK_DIR/data)')
    parser.add_argument('--preset', default='default', choices=list(PRESETS))
    parser.add_argument('--seed', type=int, default=0,
                        help='seeds the pretraining and, by default, the dataset')
    parser.add_argument('--data-seed', type=int, default=None,
                        help='seed of the generated dataset (default: --seed), so that '
                             'several pretraining seeds can share one dataset')
    parser.add_argument('--config', default=None,
                        help="pretraining config (default: the preset's, e.g. "
                             f'{osp.relpath(PRETRAIN_CONFIG, REPO_ROOT)} for the default)')
    parser.add_argument('--max-epochs', type=int, default=None,
                        help="pretraining epochs (default: the preset's)")
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='overrides passed on to tools/train.py --cfg-options')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads for pretraining and evaluation (default: the '
                             "environment's; at most the CPU count, for both); the numbers "
                             'depend on it')
    parser.add_argument('--no-figures', action='store_true')
    parser.add_argument('--strict', action='store_true',
                        help='exit with status 1 when a claim does not hold')
    args = parser.parse_args(argv)
    report = run_quickstart(args.work_dir, args.data_root, args.preset, args.seed,
                            figures=not args.no_figures, config=args.config,
                            max_epochs=args.max_epochs, cfg_options=args.cfg_options,
                            data_seed=args.data_seed, threads=args.threads)
    failed = [name for name, check in report['checks'].items() if not check['passed']]
    if failed:
        print(f'[quickstart] claims that do not hold: {", ".join(failed)}', flush=True)
        if args.strict:
            sys.exit(1)


if __name__ == '__main__':
    main()
