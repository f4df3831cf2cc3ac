#!/usr/bin/env python
"""Clips per second of the SDC data pipeline vs MMAction2's stock video pipeline.

``python tools/benchmark_pipeline.py --video-dir ../shared/videos [--clip-len 16] [--size 112]``
``python tools/benchmark_pipeline.py --ann-file LIST --data-prefix VIDEOS``

See ``sdc_mmaction.apis.benchmark_pipeline`` for what is measured.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sdc_mmaction.apis.benchmark_pipeline import benchmark_pipelines, format_report  # noqa


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--video-dir', help='benchmark on every video in this folder')
    source.add_argument('--ann-file', help='benchmark on the videos of this list')
    parser.add_argument('--data-prefix', help='folder the list paths are relative to')
    parser.add_argument('--clip-len', type=int, default=16)
    parser.add_argument('--size', type=int, default=112, help='crop size')
    parser.add_argument('--clips', type=int, default=20, help='clips per pipeline per round')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--static-crop', choices=['independent', 'shared'],
                        default='independent')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--target', type=float, default=0.8,
                        help='ratio SDC / stock to report as met')
    parser.add_argument('--json', help='also write the result to this JSON file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = benchmark_pipelines(
        args.ann_file, video_dir=args.video_dir, data_prefix=args.data_prefix,
        clip_len=args.clip_len, img_size=args.size, clips_per_round=args.clips,
        rounds=args.rounds, warmup=args.warmup, static_crop=args.static_crop, seed=args.seed)
    print(format_report(result, args.target))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
