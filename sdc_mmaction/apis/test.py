"""The evaluation entry point behind ``tools/test.py``, with MMAction2's command line."""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction

from .config_options import merge_cfg_options
from .train import build_runner


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation results')
    parser.add_argument('--dump', type=str,
                        help='dump predictions to a .pkl file for offline evaluation')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, as key=value pairs')
    parser.add_argument('--show-dir', help='save visualisations of the predictions here')
    parser.add_argument('--show', action='store_true', help='show predictions in a window')
    parser.add_argument('--interval', type=int, default=1,
                        help='visualise every this many samples')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each shown window stays open')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    from sdc_mmaction.compat import adapt_cfg_for_device

    cfg.launcher = args.launcher
    if args.launcher != 'none':
        adapt_cfg_for_device(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir is not None:
        visualization = cfg.get('default_hooks', {}).get('visualization', None)
        if visualization is None:
            raise ValueError('--show/--show-dir need default_hooks.visualization in the '
                             f'config {args.config}')
        visualization.enable = True
        visualization.show = args.show
        visualization.interval = args.interval
        visualization.wait_time = args.wait_time
        if args.show_dir is not None:
            visualization.out_dir = args.show_dir

    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must name a .pkl or .pickle file, got {args.dump!r}')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, (list, tuple)):
            cfg.test_evaluator = list(evaluators) + [dump_metric]
        else:
            cfg.test_evaluator = [evaluators, dump_metric]

    if args.cfg_options is not None:
        merge_cfg_options(cfg, args.cfg_options)
    return cfg


def main(argv: Optional[List[str]] = None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    from sdc_mmaction.apis.validate import validate_config
    validate_config(cfg, dataloaders=['test_dataloader'])
    runner = build_runner(cfg)
    metrics = runner.test()
    return runner, metrics
