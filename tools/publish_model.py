#!/usr/bin/env python
"""Prepare a checkpoint for release: ``python tools/publish_model.py IN.pth OUT_DIR``.

Keeps only the weights and the metadata (drops optimizer, message hub, parameter
schedulers and other training state) and names the file
``<name>_<YYYYMMDD>-<first 8 hex of its sha256>.pth``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sdc_mmaction.apis.checkpoint import publish_checkpoint  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Publish a checkpoint for release')
    parser.add_argument('in_file', help='checkpoint to publish')
    parser.add_argument('out_dir', help='folder for the released file')
    parser.add_argument('--name', help='model name (default: the input file name)')
    parser.add_argument('--date', help='YYYYMMDD in the file name (default: today)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    path = publish_checkpoint(args.in_file, args.out_dir, name=args.name, date=args.date)
    print(path)


if __name__ == '__main__':
    main()
