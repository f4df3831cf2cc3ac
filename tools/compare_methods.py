#!/usr/bin/env python
"""Compare methods on the generated static/dynamic dataset: pretrain each (same data,
clips, backbone width and iterations), probe its features, over several seeds.

``python tools/compare_methods.py [--work-dir work_dirs/compare] [--methods random sdc ...]
[--datasets default per_video_colour] [--seeds 5] [--preset default] [--max-parallel 2]``

See ``sdc_mmaction/apis/compare_methods.py``; a finished (method, seed) is not rerun.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sdc_mmaction.apis.compare_methods import (DATASETS, METHODS,  # noqa: E402
                                               compare_methods)
from sdc_mmaction.apis.quickstart import PRESETS  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Compare self-supervised methods on the '
                                     'generated static/dynamic video dataset.')
    parser.add_argument('--work-dir', default='work_dirs/compare')
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        choices=list(METHODS))
    parser.add_argument('--datasets', nargs='+', default=list(DATASETS),
                        choices=list(DATASETS),
                        help='per_video_colour: the scene\'s hue drawn per video, so that '
                        'only the texture tells the scenes apart')
    parser.add_argument('--seeds', type=int, nargs='+', default=[3],
                        help='a count N (seeds 0..N-1), or several seeds')
    parser.add_argument('--preset', default='default', choices=list(PRESETS),
                        help="the quick start's data size, epochs, batch and clips")
    parser.add_argument('--max-epochs', type=int, default=None,
                        help='epochs of every trained method (default: the preset\'s)')
    parser.add_argument('--data-seed', type=int, default=0)
    parser.add_argument('--max-parallel', type=int, default=1,
                        help='runs at once, each in its own process')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads per run (default: the environment\'s)')
    parser.add_argument('--no-figure', action='store_true')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    seeds = args.seeds[0] if len(args.seeds) == 1 else args.seeds
    compare_methods(args.work_dir, methods=args.methods, datasets=args.datasets,
                    seeds=seeds, preset=args.preset, max_epochs=args.max_epochs,
                    data_seed=args.data_seed, max_parallel=args.max_parallel,
                    threads=args.threads, figure=not args.no_figure)


if __name__ == '__main__':
    main()
