#!/usr/bin/env python
"""Concept analysis (Table 3): linear probes on v, q_v, q_v^s, q_v^d, F_v, F_v^s, F_v^d.

    python tools/concept_analysis.py configs/CONFIG.py work_dirs/.../epoch_N.pth \
        --train-list data/ucf101/ucf101_train_split_1_videos.txt \
        --val-list data/ucf101/ucf101_val_split_1_videos.txt \
        --data-prefix data/ucf101/videos --out-dir work_dirs/concept_analysis

Prints the table (top-1 %, one row per label set) and writes ``concept_analysis.json`` and
``concept_analysis.md`` to ``--out-dir``. ``--extra-labels NAME TRAIN VAL`` adds a label
set over the same videos (matched by path); ``--features`` picks other columns, such as
the concept distributions ``p_v_s p_v_d`` that the quick start's report also probes. See
``sdc_mmaction.apis.concept_analysis``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sdc_mmaction  # noqa: E402,F401  (compat fixes and registration)
from mmengine.config import DictAction  # noqa: E402

from sdc_mmaction.apis.concept_analysis import (ANALYSIS_FEATURES, TABLE_FEATURES,  # noqa
                                                concept_analysis)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='SDC concept analysis (Table 3)')
    parser.add_argument('config', help='SDC pretraining config')
    parser.add_argument('checkpoint',
                        help="SDC pretraining checkpoint, or 'none' for random weights")
    parser.add_argument('--train-list', required=True, help='training video list')
    parser.add_argument('--val-list', required=True, help='validation video list')
    parser.add_argument('--data-prefix', required=True, help='video folder of the lists')
    parser.add_argument('--val-data-prefix', help='video folder of the val list')
    parser.add_argument('--label-name', default='label',
                        help='name of the label set of --train-list/--val-list')
    parser.add_argument('--extra-labels', nargs=3, action='append', default=[],
                        metavar=('NAME', 'TRAIN_LIST', 'VAL_LIST'),
                        help='another label set over the same videos (repeatable)')
    parser.add_argument('--features', nargs='+', default=list(TABLE_FEATURES),
                        choices=ANALYSIS_FEATURES,
                        help="columns: Table 3's (the default), the concept distributions "
                        "p_v_s p_v_d, or the static frame's and frame difference's own "
                        "features s q_s F_s d q_d F_d")
    parser.add_argument('--top-ratio', type=float, default=0.1,
                        help='fraction of concepts whose local features are averaged')
    parser.add_argument('--clip-len', type=int, default=16)
    parser.add_argument('--frame-interval', type=int, default=1)
    parser.add_argument('--num-clips', type=int, default=1,
                        help='uniformly spaced clips averaged per video')
    parser.add_argument('--resize', type=int, default=128,
                        help='short side before the centre crop (0: no resize)')
    parser.add_argument('--crop-size', type=int, default=112)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--weight-decay', type=float, default=1e-3,
                        help='L2 penalty of the linear classifier')
    parser.add_argument('--max-iter', type=int, default=300, help='L-BFGS iterations')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out-dir', help='write concept_analysis.{json,md} here')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as key=value pairs')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    extra = {name: (train, val) for name, train, val in args.extra_labels}
    if args.label_name in extra:
        raise ValueError(f'--extra-labels repeats the label set name {args.label_name!r}')
    out_json = osp.join(args.out_dir, 'concept_analysis.json') if args.out_dir else None
    out_md = osp.join(args.out_dir, 'concept_analysis.md') if args.out_dir else None
    report = concept_analysis(
        args.config, checkpoint, args.train_list, args.val_list, args.data_prefix,
        val_data_prefix=args.val_data_prefix, label_name=args.label_name,
        extra_label_sets=extra, features=args.features, top_ratio=args.top_ratio,
        clip_len=args.clip_len, frame_interval=args.frame_interval,
        num_clips=args.num_clips, resize=args.resize or None, crop_size=args.crop_size,
        batch_size=args.batch_size, num_workers=args.num_workers,
        weight_decay=args.weight_decay, max_iter=args.max_iter,
        cfg_options=args.cfg_options, device=args.device,
        progress=not args.no_progress, out_json=out_json, out_markdown=out_md)
    print('Linear-probe top-1 accuracy (%) on the validation list:')
    print(report['markdown'])
    if args.out_dir:
        print(f'wrote {out_json} and {out_md}')
    return report


if __name__ == '__main__':
    main()
