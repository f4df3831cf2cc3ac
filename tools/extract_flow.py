#!/usr/bin/env python
"""Extract RGB frames and optical flow (TV-L1 or Farneback) into MMAction2's rawframe
layout, with RawframeDataset lists (library: ``sdc_mmaction.apis.optical_flow``).

    python tools/extract_flow.py VIDEO_ROOT OUT_ROOT [--video-list LIST] \
        [--method tvl1|farneback] [--workers 8] [--short-side 240] [--bound 20]

Finished videos (a ``.done`` marker in their folder) are skipped, so an interrupted run
continues where it stopped. Videos that cannot be read are named at the end and the exit
status is then 1; the lists hold the videos that were extracted.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sdc_mmaction.apis.optical_flow import METHODS, extract_flow_dataset  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Extract frames and optical flow')
    parser.add_argument('video_root', help='folder of the videos')
    parser.add_argument('out_root', help='output folder of the frame folders and lists')
    parser.add_argument('--video-list', help='MMAction2 video list ("path [label]" per '
                        'line, paths relative to video_root); default: every video file '
                        'under video_root')
    parser.add_argument('--list-name', help='prefix of the written lists (default: the '
                        'video list\'s name, or "videos")')
    parser.add_argument('--method', choices=METHODS, default='tvl1')
    parser.add_argument('--workers', type=int, default=1, help='parallel processes')
    parser.add_argument('--short-side', type=int, help='resize frames to this short side')
    parser.add_argument('--bound', type=float, default=20.0,
                        help='flow clipped to [-bound, bound] pixels before quantising')
    parser.add_argument('--max-frames', type=int,
                        help='use only the first frames of each video (tests, timing)')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    report = extract_flow_dataset(
        args.video_root, args.out_root, list_file=args.video_list, list_name=args.list_name,
        method=args.method, bound=args.bound, short_side=args.short_side,
        max_frames=args.max_frames, workers=args.workers, progress=not args.no_progress)
    print(f'extracted {report["done"]}, skipped {report["skipped"]} (already done), '
          f'failed {report["failed"]}')
    if report['flow_seconds'] > 0:
        # each worker runs OpenCV on one thread, so summed per-video times are core-seconds
        print(f'{args.method}: {report["flow_frames"]} flow frames in '
              f'{report["flow_seconds"]:.2f} s of flow computation = '
              f'{report["flow_frames"] / report["flow_seconds"]:.2f} frames/s per core; '
              f'with decoding and JPEG writing {report["seconds"]:.2f} s = '
              f'{report["flow_frames"] / report["seconds"]:.2f} frames/s per core')
    print('lists: ' + ', '.join(report['lists']))
    for video, reason in report['failures']:
        print(f'FAILED {video}: {reason}', file=sys.stderr)
    return 1 if report['failures'] else 0


if __name__ == '__main__':
    sys.exit(main())
