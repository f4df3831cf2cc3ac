#!/usr/bin/env python
"""Cost of SDC (or DCLR) pre-training vs a stock supervised Recognizer3D step, in one run.

    python tools/benchmark.py CONFIG [--batch-size N] [--iters 10] [--warmup 3] [--amp]
        [--channels-last] [--stack-views | --no-stack-views] [--device auto|cpu|cuda]
        [--clip-shape T H W] [--pipeline-clips 10] [--pipeline-video-dir DIR]
        [--repeats 1] [--out result.json]
        [--cfg-options key=value ...]

Prints a table (step time, memory, data-pipeline clips/s, ratios, the heads' share of the
SDC step; not for DCLR) and writes it all as JSON with ``--out``. A DCLR config
(``configs/dclr/``) is measured the same way against the same stock step. What is measured, and how, is
documented in ``sdc_mmaction/apis/benchmark.py`` and docs/benchmark.md.

With a CoCon config (``model.type == 'CoCon'``) it times CoCon's step against a stock
``Recognizer3D`` + ``BlockGRUHead`` on the first view's backbone, and with
``--flow-video-dir`` the optical flow extraction beside it
(``sdc_mmaction/apis/benchmark_cocon.py``); ``--clip-shape`` is then one block's T H W.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sdc_mmaction  # noqa: E402,F401  (compat fixes and registration before anything else)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Benchmark SDC or DCLR pre-training against a stock supervised step')
    parser.add_argument('config', help='SDC or DCLR pre-training config file')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="clips per step (default: the config's train batch size)")
    parser.add_argument('--iters', type=int, default=10, help='timed steps (median)')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: AmpOptimWrapper on CUDA, bfloat16 '
                        'CPUAmpOptimWrapper on CPU')
    parser.add_argument('--amp-dtype', choices=['float16', 'bfloat16'], default=None,
                        help='CUDA autocast type (default float16); CPU always bfloat16')
    parser.add_argument('--channels-last', action='store_true',
                        help='models and inputs in channels_last_3d memory format')
    parser.add_argument('--stack-views', action=argparse.BooleanOptionalAction,
                        default=None,
                        help='one backbone pass over the three views stacked on the batch '
                        "axis (--stack-views) or one per view (default: the config's)")
    parser.add_argument('--device', choices=['auto', 'cpu', 'cuda'], default='auto')
    parser.add_argument('--clip-shape', type=int, nargs=3, metavar=('T', 'H', 'W'),
                        default=None, help='clip shape (default: from the config)')
    parser.add_argument('--num-classes', type=int, default=400,
                        help='classes of the stock model\'s head')
    parser.add_argument('--pipeline-clips', type=int, default=10,
                        help='clips per pipeline and round for the data-pipeline clips/s '
                        '(0 skips it)')
    parser.add_argument('--pipeline-rounds', type=int, default=2)
    parser.add_argument('--pipeline-video-dir', default=None,
                        help="measure the pipelines on this folder's videos instead of "
                        "the config's train list")
    parser.add_argument('--no-isolate', action='store_true',
                        help='measure both models in this process (faster start, but '
                        'CPU memory peaks are then not separable)')
    parser.add_argument('--repeats', type=int, default=1,
                        help='measure each model this many times, alternating the order, '
                        'and pool the step times (for a machine whose load changes)')
    parser.add_argument('--flow-video-dir', default=None,
                        help='CoCon configs: also measure optical flow extraction on the '
                        'videos of this folder')
    parser.add_argument('--flow-frames', type=int, default=11,
                        help='frames read from each video for the flow measurement')
    parser.add_argument('--flow-short-side', type=int, default=256)
    parser.add_argument('--flow-methods', nargs='+', default=['farneback', 'tvl1'],
                        choices=['farneback', 'tvl1'])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the results as JSON here')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, as key=value pairs (e.g. '
        'model.backbone.base_channels=16 train_dataloader.num_workers=2)')
    return parser.parse_args(argv)


def main(argv=None):
    from mmengine.config import Config

    from sdc_mmaction.apis.benchmark import format_report, run_benchmark, save_json
    from sdc_mmaction.apis.config_options import merge_cfg_options

    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    if cfg.model.get('type') == 'CoCon':
        return main_cocon(cfg, args)
    result = run_benchmark(
        cfg, batch_size=args.batch_size, iters=args.iters, warmup=args.warmup, amp=args.amp,
        amp_dtype=args.amp_dtype, channels_last=args.channels_last,
        stack_views=args.stack_views, device=args.device, clip_shape=args.clip_shape,
        num_classes=args.num_classes, pipeline_clips=args.pipeline_clips,
        pipeline_rounds=args.pipeline_rounds, pipeline_video_dir=args.pipeline_video_dir,
        isolate=not args.no_isolate, repeats=args.repeats, seed=args.seed,
        config_path=args.config)
    print(format_report(result))
    if args.out:
        save_json(result, args.out)
        print(f'results written to {args.out}')
    return result


def main_cocon(cfg, args):
    from sdc_mmaction.apis.benchmark import save_json
    from sdc_mmaction.apis.benchmark_cocon import format_cocon_report, run_cocon_benchmark

    result = run_cocon_benchmark(
        cfg, batch_size=args.batch_size, iters=args.iters, warmup=args.warmup,
        device=args.device, block_shape=args.clip_shape, num_classes=args.num_classes,
        flow_video_dir=args.flow_video_dir, flow_frames=args.flow_frames,
        flow_short_side=args.flow_short_side, flow_methods=args.flow_methods, seed=args.seed)
    print(format_cocon_report(result))
    if args.out:
        save_json(result, args.out)
        print(f'results written to {args.out}')
    return result


if __name__ == '__main__':
    main()
