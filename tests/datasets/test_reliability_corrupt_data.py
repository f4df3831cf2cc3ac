"""Data-side faults in a real training run: truncated, empty and garbage video files.

With ``SafeVideoDataset(skip_bad_videos=True)`` SDC pre-training on the generated dataset
finishes and the log names and counts every skipped sample; without it the first bad
video stops training with an error naming the file.
"""
import os
import os.path as osp
import re
import shutil

import pytest
import torch

import sdc_mmaction  # noqa: F401
from sdc_mmaction.datasets import VideoReadError

from reliability_helpers import read_log_text, unique_experiment_name, write_sdc_tiny_config

EPOCHS = 2
ITERS_PER_EPOCH = 3  # 12 training videos, batch 4


@pytest.fixture(scope='module')
def corrupt_dataset(generated_dataset, tmp_path_factory):
    """A copy of the generated dataset with three broken training videos."""
    root = str(tmp_path_factory.mktemp('corrupt') / 'data')
    shutil.copytree(generated_dataset, root)
    with open(osp.join(root, 'annotations', 'train_action.txt')) as f:
        names = [line.split()[0] for line in f if line.strip()]
    paths = [osp.join(root, 'videos', name) for name in names[:3]]
    truncated, empty, garbage = paths
    size = osp.getsize(truncated)
    with open(truncated, 'r+b') as f:
        f.truncate(size // 2)  # a download cut short
    open(empty, 'wb').close()  # a zero-byte file
    with open(garbage, 'wb') as f:
        f.write(os.urandom(4096))  # not a video at all
    return root, dict(truncated=truncated, empty=empty, garbage=garbage)


def _train(config, work_dir):
    from sdc_mmaction.apis.train import main
    return main([config, '--work-dir', str(work_dir), '--seed', '0', '--cfg-options',
                 f'experiment_name={unique_experiment_name(work_dir)}'])


def test_training_skips_and_counts_bad_videos(corrupt_dataset, tmp_path):
    root, bad = corrupt_dataset
    config = write_sdc_tiny_config(
        str(tmp_path / 'sdc_tiny_skip.py'), root, max_epochs=EPOCHS,
        extra="train_dataloader['dataset']['skip_bad_videos'] = True\n")
    runner = _train(config, tmp_path / 'work')

    # training finished: every epoch ran and wrote a checkpoint
    final = torch.load(tmp_path / 'work' / f'epoch_{EPOCHS}.pth', map_location='cpu',
                       weights_only=False)
    assert final['meta']['iter'] == EPOCHS * ITERS_PER_EPOCH

    log = read_log_text(str(tmp_path / 'work'))
    skips = re.findall(r"skipping a bad video \((\d+) skipped so far\): cannot read video "
                       r"'([^']+)': (.*)", log)
    counts = [int(count) for count, _, _ in skips]
    assert counts == list(range(1, len(skips) + 1))  # a running count, in the log
    # each bad file is met at least once per epoch (every index is visited once)
    assert len(skips) >= len(bad) * EPOCHS
    assert {filename for _, filename, _ in skips} == set(bad.values())
    reasons = {filename: reason for _, filename, reason in skips}
    assert 'empty' in reasons[bad['empty']]
    assert 'truncated' in reasons[bad['truncated']] or 'moov' in reasons[bad['truncated']]
    assert runner.train_dataloader.dataset.num_skipped == len(skips)


def test_without_skip_the_first_bad_video_stops_training_by_name(corrupt_dataset, tmp_path):
    root, bad = corrupt_dataset
    config = write_sdc_tiny_config(str(tmp_path / 'sdc_tiny_noskip.py'), root,
                                   max_epochs=EPOCHS)
    with pytest.raises(VideoReadError) as err:
        _train(config, tmp_path / 'work')
    assert err.value.filename in bad.values()
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()
