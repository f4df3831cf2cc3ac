#!/usr/bin/env python
"""Generate the synthetic static/dynamic video dataset.

``python tools/generate_dataset.py OUT_DIR [--seed 0] [--num-static 4] [--num-dynamic 4] ...``

The layout and the design of the videos are described in ``sdc_mmaction.datasets.synthetic``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sdc_mmaction.datasets.synthetic import SyntheticOptions, generate_dataset  # noqa: E402


def parse_args(argv=None):
    defaults = SyntheticOptions()
    parser = argparse.ArgumentParser(
        description='Write a generated video dataset with known static (scene) and '
        'dynamic (motion) factors, plus MMAction2 annotation lists.')
    parser.add_argument('out_dir', help='output folder (see the layout in '
                        'sdc_mmaction/datasets/synthetic.py)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-static', type=int, default=defaults.num_static,
                        help='scene classes')
    parser.add_argument('--num-dynamic', type=int, default=defaults.num_dynamic,
                        help='motion classes')
    parser.add_argument('--train-per-class', type=int, default=defaults.train_per_class,
                        help='training videos per (scene, motion) pair')
    parser.add_argument('--val-per-class', type=int, default=defaults.val_per_class,
                        help='validation videos per (scene, motion) pair')
    parser.add_argument('--no-motion-only', action='store_true',
                        help='do not write the motion-only variant')
    parser.add_argument('--size', type=int, nargs='+', default=[defaults.height],
                        metavar='PX', help='frame size: S or H W')
    parser.add_argument('--frames', type=int, default=defaults.num_frames,
                        help='frames per video')
    parser.add_argument('--fps', type=int, default=defaults.fps)
    parser.add_argument('--objects', type=int, default=defaults.num_objects,
                        help='moving objects per video')
    parser.add_argument('--noise-std', type=float, default=defaults.noise_std,
                        help='per-frame noise (8-bit levels, at most 4)')
    parser.add_argument('--codec', choices=['lossless', 'mp4v'], default=defaults.codec)
    parser.add_argument('--object-look', choices=['fixed', 'random'],
                        default=defaults.object_look,
                        help='same look for every object, or a random shape and colour')
    parser.add_argument('--hue-amplitude', type=float, default=defaults.hue_amplitude,
                        help='how far the scenes\' mean colours lie from grey (8-bit levels, '
                             '0 to 36; smaller leaves the texture as the main scene cue)')
    parser.add_argument('--scene-colour', choices=['class', 'per_video'],
                        default=defaults.scene_colour,
                        help="'per_video' draws each video's hue at random, so that only "
                             'the texture family tells the scenes apart (at most 4 scenes)')
    parser.add_argument('--workers', type=int, default=2, help='videos encoded at once')
    parser.add_argument('--overwrite', action='store_true',
                        help='write into a non-empty OUT_DIR')
    args = parser.parse_args(argv)
    if len(args.size) not in (1, 2):
        parser.error('--size takes one or two numbers')
    return args


def main(argv=None):
    args = parse_args(argv)
    size = args.size[0] if len(args.size) == 1 else tuple(args.size)
    meta = generate_dataset(
        args.out_dir, seed=args.seed, num_static=args.num_static,
        num_dynamic=args.num_dynamic, train_per_class=args.train_per_class,
        val_per_class=args.val_per_class, motion_only=not args.no_motion_only, size=size,
        num_frames=args.frames, fps=args.fps, num_objects=args.objects,
        noise_std=args.noise_std, codec=args.codec, object_look=args.object_look,
        hue_amplitude=args.hue_amplitude, scene_colour=args.scene_colour,
        overwrite=args.overwrite,
        num_workers=args.workers, progress=True)
    print(f"wrote {meta['root']}")
    for name, count in sorted(meta['counts'].items()):
        print(f"  annotations/{name}.txt: {count} videos")


if __name__ == '__main__':
    main()
