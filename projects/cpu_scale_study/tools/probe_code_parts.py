#!/usr/bin/env python
"""Probe each part of the clip's dynamic codes of a finished quick start.

    python projects/cpu_scale_study/tools/probe_code_parts.py WORK_DIR [--data-root DATA]

Prints a table (top-1 %, scene and motion label) for the norm of sigma(v), the dot
products with the dynamic prototypes, the codes q_v^d, the shift shared by a clip's
codes and the codes minus that shift, and writes it to WORK_DIR/code_parts.md and
code_parts.json. See ``cpu_scale_study/apis/code_parts.py``.
"""
import argparse
import json
import os.path as osp
import sys

# the repository root, three folders up, so that `projects.` and `sdc_mmaction` import
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..')))

import projects.cpu_scale_study.cpu_scale_study  # noqa: E402,F401  (registration)

from projects.cpu_scale_study.cpu_scale_study.apis.code_parts import (  # noqa: E402
    format_code_parts, probe_dynamic_code_parts)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Linear probes of the parts of a quick start's q_v^d")
    parser.add_argument('work_dir', help='work dir of a finished quick start')
    parser.add_argument('--data-root', help='its dataset (default: WORK_DIR/data)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    probes = probe_dynamic_code_parts(args.work_dir, args.data_root)
    table = format_code_parts(probes)
    print(table)
    with open(osp.join(args.work_dir, 'code_parts.md'), 'w') as handle:
        handle.write(table + '\n')
    with open(osp.join(args.work_dir, 'code_parts.json'), 'w') as handle:
        json.dump(probes, handle, indent=2)


if __name__ == '__main__':
    main()
