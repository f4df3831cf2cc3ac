#!/usr/bin/env python
"""SDC pretraining checkpoint -> backbone checkpoint for downstream MMAction2 configs.

    python tools/convert_pretrained.py work_dirs/sdc/epoch_200.pth backbone.pth \
        [--check-config configs/sdc/benchmarks/linear-probe_r2plus1d-18_ucf101-split1.py]

The output holds ``state_dict`` with ``backbone.*`` keys (``--strip-prefix``: bare keys)
and is loaded with ``--cfg-options load_from=backbone.pth``; see
``sdc_mmaction.apis.checkpoint``.

Multi-view models (CoCon) have one backbone per view: ``--view rgb`` exports that view's;
several ``--view`` options (or ``--view all``) export each into ``dst`` with ``{view}``
replaced by the view name:

    python tools/convert_pretrained.py work_dirs/cocon/epoch_100.pth cocon_{view}.pth \
        --view all
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sdc_mmaction.apis.checkpoint import (BACKBONE_PREFIX,  # noqa: E402
                                          check_backbone_loads, convert_pretrained,
                                          extract_backbone_state_dict, get_state_dict,
                                          load_checkpoint_file, view_backbone_prefix)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Extract the backbone of an SDC pretraining checkpoint')
    parser.add_argument('src', help='SDC pretraining checkpoint (from tools/train.py)')
    parser.add_argument('dst', help='output backbone checkpoint')
    parser.add_argument('--strip-prefix', action='store_true',
                        help='write keys without "backbone." (for ResNet3d pretrained=)')
    parser.add_argument('--view', action='append',
                        help='export the backbone of this view of a multi-view model '
                        '(CoCon: encoders.VIEW.backbone.); repeat it, or say "all", to '
                        'export several, with {view} in dst')
    parser.add_argument('--check-config',
                        help='a downstream config whose backbone must load the weights '
                        'strictly (same keys and shapes)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.view:
        jobs = [(args.dst, BACKBONE_PREFIX, True)]
    else:
        views = args.view
        if views == ['all']:
            views = views_in_checkpoint(args.src)
        if len(views) > 1 and '{view}' not in args.dst:
            raise SystemExit(f'exporting {len(views)} views ({views}) needs "{{view}}" in '
                             f'dst, got {args.dst!r}')
        jobs = [(args.dst.replace('{view}', view), view_backbone_prefix(view), False)
                for view in views]
    for dst, prefix, require_concepts in jobs:
        info = convert_pretrained(args.src, dst, strip_prefix=args.strip_prefix,
                                  require_concepts=require_concepts, src_prefix=prefix)
        if args.check_config:
            state = get_state_dict(load_checkpoint_file(dst), dst)
            if not args.strip_prefix:
                state = extract_backbone_state_dict(state, dst, BACKBONE_PREFIX,
                                                    require_concepts=False)
            check_backbone_loads(state, args.check_config, filename=dst)
            print(f'checked: the backbone of {args.check_config} loads {dst} strictly')
        print(f'wrote {info["dst"]}: {info["num_tensors"]} tensors, '
              f'{info["num_parameters"]} elements from {prefix!r}, key prefix '
              f'{info["prefix"]!r}')


def views_in_checkpoint(src):
    """The view names of a multi-view checkpoint (keys ``encoders.<view>.backbone.*``)."""
    state = get_state_dict(load_checkpoint_file(src), src)
    views = sorted({key.split('.')[1] for key in state
                    if key.startswith('encoders.') and '.backbone.' in key})
    if not views:
        raise SystemExit(f'{src} has no per-view backbones (encoders.<view>.backbone.*); '
                         'drop --view for a single-backbone checkpoint')
    return views


if __name__ == '__main__':
    main()
