#!/usr/bin/env python
"""Video retrieval R@k (test videos query the training videos), Table 2's protocol.

    python tools/retrieval.py CONFIG CHECKPOINT \
        --train-list data/ucf101/ucf101_train_split_1_videos.txt \
        --test-list data/ucf101/ucf101_val_split_1_videos.txt \
        --data-prefix data/ucf101/videos

CONFIG is the SDC pretraining config (CHECKPOINT an SDC pretraining checkpoint) or a
downstream config (CHECKPOINT a converted backbone or a trained recognizer); CHECKPOINT
``none`` keeps a random initialisation. See ``sdc_mmaction.apis.retrieval``.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sdc_mmaction  # noqa: E402,F401  (compat fixes and registration)
from mmengine.config import DictAction  # noqa: E402

from sdc_mmaction.apis.retrieval import format_recall, video_retrieval  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Nearest-neighbour video retrieval R@k')
    parser.add_argument('config', help='model config')
    parser.add_argument('checkpoint', help="checkpoint, or 'none' for random weights")
    parser.add_argument('--train-list', required=True, help='gallery video list')
    parser.add_argument('--test-list', required=True, help='query video list')
    parser.add_argument('--data-prefix', required=True, help='video folder of the lists')
    parser.add_argument('--test-data-prefix', help='video folder of the test list')
    parser.add_argument('--clip-len', type=int, default=16)
    parser.add_argument('--frame-interval', type=int, default=1)
    parser.add_argument('--num-clips', type=int, default=10,
                        help='uniformly spaced clips averaged per video')
    parser.add_argument('--resize', type=int, default=128,
                        help='short side before the centre crop (0: no resize)')
    parser.add_argument('--crop-size', type=int, default=112)
    parser.add_argument('--topk', type=int, nargs='+', default=[1, 5, 10, 20],
                        help='the k of R@k (default: 1 5 10 20); each k at most the number '
                        'of videos in --train-list (the gallery): with 12 gallery videos, '
                        'e.g. --topk 1 5 10')
    parser.add_argument('--feature-key', default='v', help='model output to retrieve with')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--save-features',
                        help='save the training features (a VideoRetrievalMetric gallery)')
    parser.add_argument('--out', help='write the recalls as JSON here')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as key=value pairs')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    results = video_retrieval(
        args.config, checkpoint, args.train_list, args.test_list, args.data_prefix,
        test_data_prefix=args.test_data_prefix, clip_len=args.clip_len,
        frame_interval=args.frame_interval, num_clips=args.num_clips,
        resize=args.resize or None, crop_size=args.crop_size, topk=args.topk,
        feature_key=args.feature_key, batch_size=args.batch_size,
        num_workers=args.num_workers, save_features=args.save_features,
        cfg_options=args.cfg_options, device=args.device, progress=not args.no_progress)
    print(format_recall(results))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == '__main__':
    main()
