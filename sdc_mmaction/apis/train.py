"""The training entry point behind ``tools/train.py``, with MMAction2's command line.

Kept as library functions (``parse_args``, ``merge_args``, ``main``) so that tests and other
tools can drive training in-process or check how arguments land in the config.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction

from .config_options import merge_cfg_options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='Train an SDC model (or any MMAction2 model) from a config')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; with no path, from the latest checkpoint '
        'in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='enable automatic mixed precision training')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by the actual over the config\'s base batch size')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--diff-rank-seed', action='store_true',
                        help='use a different seed on every rank')
    parser.add_argument('--deterministic', action='store_true',
                        help='use deterministic algorithms (cuDNN and torch)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, as key=value pairs (e.g. '
        'train_cfg.max_epochs=2 model.backbone.depth=18)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK itself.
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to ``cfg`` (CLI wins over the file)."""
    from sdc_mmaction.compat import adapt_cfg_for_device

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher
    if args.launcher != 'none':
        adapt_cfg_for_device(cfg)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        # AmpOptimWrapper on CUDA, CPUAmpOptimWrapper (bfloat16 autocast) on CPU
        from sdc_mmaction.engine.optim_wrappers import amp_optim_wrapper_cfg
        cfg.optim_wrapper = amp_optim_wrapper_cfg(cfg.optim_wrapper)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the '
                             f'config {args.config}')
        cfg.auto_scale_lr.enable = True

    randomness = dict(cfg.get('randomness', None) or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    if randomness:
        randomness.setdefault('seed', None)  # mmengine requires the key
        cfg.randomness = randomness

    if args.cfg_options is not None:
        merge_cfg_options(cfg, args.cfg_options)
    return cfg


def build_runner(cfg: Config):
    from mmengine.runner import Runner

    from mmaction.registry import RUNNERS
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def main(argv: Optional[List[str]] = None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    from sdc_mmaction.apis.validate import validate_config
    validate_config(cfg)  # fail fast, naming the option, before anything is built
    runner = build_runner(cfg)
    runner.train()
    return runner
