#!/usr/bin/env python
"""The study's diagnostics of a finished quick start: how the clip's static and dynamic
codes assign the training videos (collapse shows as target entropy near ln K), which
factor each feature's spread follows, and the decoupling checks asked of the concept
distributions and of the codes and local features alone.

    python projects/cpu_scale_study/tools/code_diagnostics.py WORK_DIR [--data-root DATA]

Writes WORK_DIR/diagnostics.md and diagnostics.json and prints the tables. See
``cpu_scale_study/apis/quickstart_diagnostics.py``.
"""
import argparse
import os.path as osp
import sys

# the repository root, three folders up, so that `projects.` and `sdc_mmaction` import
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..')))

import projects.cpu_scale_study.cpu_scale_study  # noqa: E402,F401  (registration)
from projects.cpu_scale_study.cpu_scale_study.apis.quickstart_diagnostics import (  # noqa
    diagnose_quickstart, format_diagnostics)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help="a quick start's work dir (holds results.json)")
    parser.add_argument('--data-root', default=None,
                        help='its generated dataset (default: WORK_DIR/data)')
    args = parser.parse_args(argv)
    print(format_diagnostics(diagnose_quickstart(args.work_dir, args.data_root)))


if __name__ == '__main__':
    main()
