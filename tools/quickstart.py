#!/usr/bin/env python
"""The whole SDC job on one CPU machine: generate a static/dynamic video dataset, pretrain,
evaluate against a random backbone, draw the pictures. See sdc_mmaction/apis/quickstart.py.

    python tools/quickstart.py [--work-dir work_dirs/quickstart] [--preset default|ci]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sdc_mmaction  # noqa: E402,F401
from sdc_mmaction.apis.quickstart import PRESETS, run_quickstart  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    parser.add_argument('--data-root', default=None,
                        help='where the generated dataset goes (default: WORK_DIR/data)')
    parser.add_argument('--preset', default='default', choices=list(PRESETS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-figures', action='store_true')
    parser.add_argument('--strict', action='store_true',
                        help='exit with status 1 when a check fails')
    args = parser.parse_args(argv)
    report = run_quickstart(args.work_dir, args.data_root, args.preset, args.seed,
                            figures=not args.no_figures)
    failed = [name for name, check in report['checks'].items() if not check['passed']]
    if failed:
        print(f'[quickstart] checks not met: {", ".join(failed)}', flush=True)
        if args.strict:
            sys.exit(1)


if __name__ == '__main__':
    main()
