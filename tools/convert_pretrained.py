#!/usr/bin/env python
"""SDC pretraining checkpoint -> backbone checkpoint for downstream MMAction2 configs.

    python tools/convert_pretrained.py work_dirs/sdc/epoch_200.pth backbone.pth \
        [--check-config configs/sdc/benchmarks/linear-probe_r2plus1d-18_ucf101-split1.py]

The output holds ``state_dict`` with ``backbone.*`` keys (``--strip-prefix``: bare keys)
and is loaded with ``--cfg-options load_from=backbone.pth``; see
``sdc_mmaction.apis.checkpoint``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sdc_mmaction.apis.checkpoint import (BACKBONE_PREFIX,  # noqa: E402
                                          check_backbone_loads, convert_pretrained,
                                          extract_backbone_state_dict, get_state_dict,
                                          load_checkpoint_file)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Extract the backbone of an SDC pretraining checkpoint')
    parser.add_argument('src', help='SDC pretraining checkpoint (from tools/train.py)')
    parser.add_argument('dst', help='output backbone checkpoint')
    parser.add_argument('--strip-prefix', action='store_true',
                        help='write keys without "backbone." (for ResNet3d pretrained=)')
    parser.add_argument('--check-config',
                        help='a downstream config whose backbone must load the weights '
                        'strictly (same keys and shapes)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    info = convert_pretrained(args.src, args.dst, strip_prefix=args.strip_prefix)
    if args.check_config:
        state = get_state_dict(load_checkpoint_file(args.dst), args.dst)
        if not args.strip_prefix:
            state = extract_backbone_state_dict(state, args.dst, BACKBONE_PREFIX,
                                                require_concepts=False)
        check_backbone_loads(state, args.check_config, filename=args.dst)
        print(f'checked: the backbone of {args.check_config} loads {args.dst} strictly')
    print(f'wrote {info["dst"]}: {info["num_tensors"]} tensors, '
          f'{info["num_parameters"]} elements, key prefix {info["prefix"]!r}')


if __name__ == '__main__':
    main()
