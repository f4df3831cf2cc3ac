"""Helpers for the reliability tests: tiny videos, a tiny config, log readers, and a
test-only hook that parks a training process so the test can SIGKILL it at a known point.

Imported by the tests (pytest puts tests/ on sys.path) and, through ``custom_imports``, by
the training subprocesses (the tests add tests/ to their PYTHONPATH).
"""
import json
import os
import os.path as osp
import time
from glob import glob

import numpy as np

TESTS_DIR = osp.dirname(osp.abspath(__file__))


# --------------------------------------------------------------------------- data
def write_videos(folder, num_videos=8, num_frames=12, size=32, seed=0):
    """Write ``num_videos`` small mp4 clips (a moving bright square on noise) and an
    annotation file ``ann.txt`` (``name label`` per line). Returns the annotation path."""
    import cv2

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(num_videos):
        name = f'video_{index:02d}.mp4'
        writer = cv2.VideoWriter(osp.join(folder, name), cv2.VideoWriter_fourcc(*'mp4v'),
                                 8, (size, size))
        background = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
        for t in range(num_frames):
            frame = background.copy()
            x = (2 * t + 3 * index) % (size - 8)
            frame[8:16, x:x + 8] = 255
            writer.write(frame)
        writer.release()
        lines.append(f'{name} {index % 2}')
    ann = osp.join(folder, 'ann.txt')
    with open(ann, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return ann


# --------------------------------------------------------------------------- configs
TINY_SUPERVISED_CONFIG = '''
custom_imports = dict(imports=['sdc_mmaction'], allow_failed_imports=False)
default_scope = 'mmaction'
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='ResNet2Plus1d', depth=18, base_channels=8, pretrained=None,
        pretrained2d=False, norm_eval=False, conv_cfg=dict(type='Conv2plus1d'),
        norm_cfg=dict(type='BN3d', requires_grad=True, eps=1e-3), conv1_kernel=(3, 7, 7),
        conv1_stride_t=1, pool1_stride_t=1, inflate=(1, 1, 1, 1),
        spatial_strides=(1, 2, 2, 2), temporal_strides=(1, 2, 2, 2)),
    cls_head=dict(type='I3DHead', num_classes=2, in_channels=64, spatial_type='avg',
                  dropout_ratio=0.0, init_std=0.01, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[110.0, 110.0, 110.0],
                           std=[60.0, 60.0, 60.0], format_shape='NCTHW'))
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomCrop', size=28),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoDataset', ann_file=ANN_FILE,
                 data_prefix=dict(video=DATA_ROOT), pipeline=train_pipeline))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=100)
val_cfg = None
val_dataloader = None
val_evaluator = None
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[1, 2], gamma=0.5)]
default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='NonFiniteLossHook')]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork',
               opencv_num_threads=0), dist_cfg=dict(backend='gloo'))
log_processor = dict(type='LogProcessor', window_size=1, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
'''


def write_tiny_supervised_config(path, data_root, ann_file):
    """A Recognizer3D + ResNet2Plus1d(base_channels=8) config on the videos of
    :func:`write_videos`: 3 epochs, batch 2, LR halved after epochs 1 and 2."""
    text = (f'ANN_FILE = {ann_file!r}\nDATA_ROOT = {data_root!r}\n' +
            TINY_SUPERVISED_CONFIG)
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


SDC_TINY_CONFIG = osp.join(osp.dirname(TESTS_DIR), 'configs', 'sdc', 'sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py')


def write_sdc_tiny_config(path, data_root, *, clip_len=4, img_size=32, batch_size=4,
                          max_epochs=2, num_workers=0, extra=''):
    """``configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py`` shrunk for tests, on the generated
    dataset at ``data_root``: T x S x S clips, the queue from epoch 0 (so a checkpoint
    after epoch 1 holds one), and :class:`NonFiniteLossHook` added to the config's hooks.
    ``extra`` is appended to the file (plain config code)."""
    from sdc_mmaction.datasets import concept_pipeline

    pipeline = concept_pipeline(clip_len=clip_len, img_size=img_size, area_range=(0.3, 1.0))
    text = f"""_base_ = [{SDC_TINY_CONFIG!r}]
train_dataloader = dict(
    batch_size={batch_size}, num_workers={num_workers},
    dataset=dict(data_root={data_root!r}, pipeline={pipeline!r}))
train_cfg = dict(max_epochs={max_epochs})
model = dict(align_head=dict(queue_start_epoch=0))
custom_hooks = [
    dict(type='LocalLossWarmupHook', warmup_epochs=1),
    dict(type='ConceptQueueHook'),
    dict(type='NonFiniteLossHook'),
]
"""
    with open(path, 'w') as f:
        f.write(text + extra)
    return str(path)


_EXPERIMENT_COUNTER = [0]


def unique_experiment_name(work_dir):
    """An ``experiment_name`` for an in-process run. mmengine keys its logger and
    visualizer instances by this name, so two runs in one process with the same name would
    share (and write to) the first run's log and scalars files."""
    _EXPERIMENT_COUNTER[0] += 1
    return f'{osp.basename(str(work_dir))}_{os.getpid()}_{_EXPERIMENT_COUNTER[0]}'


# --------------------------------------------------------------------------- logs
def read_scalars_by_run(work_dir):
    """Training records of each ``<work_dir>/<timestamp>/vis_data/scalars.json``, one list
    per run, in time order. A resumed run starts a new timestamp folder, except when it
    starts within the same second as the run before it: mmengine names the folder by the
    second, and both runs then append to one file, so a new run also starts where the
    iteration count stops rising."""
    runs = []
    for path in sorted(glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        records = []
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    record = json.loads(line)
                    if 'lr' in record or any(k.startswith('loss') for k in record):
                        if records and record.get('iter', 0) <= records[-1].get('iter', -1):
                            runs.append(records)
                            records = []
                        records.append(record)
        runs.append(records)
    return runs


def read_scalars(work_dir):
    """All training records of ``work_dir``, every run's in time order."""
    return [record for run in read_scalars_by_run(work_dir) for record in run]


def read_log_text(work_dir):
    """The text of every ``<work_dir>/<timestamp>/<timestamp>.log``, concatenated."""
    text = ''
    for path in sorted(glob(osp.join(work_dir, '*', '*.log'))):
        with open(path) as f:
            text += f.read()
    return text


def wait_for(predicate, timeout, process=None, interval=0.05):
    """Poll ``predicate()`` until true; fail early if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process is not None and process.poll() is not None:
            return predicate()
        time.sleep(interval)
    return False


# --------------------------------------------------------------------------- test hook
def _register_park_hook():
    from mmengine.hooks import Hook

    from mmaction.registry import HOOKS

    @HOOKS.register_module(force=True)
    class ParkTrainingHook(Hook):
        """Test only: after iteration ``at_iter`` (1-based, global) write ``marker`` and
        sleep until killed, so the test can SIGKILL training at a known point. Uses no
        random numbers, so the parked run trains exactly like one without the hook."""

        priority = 'LOWEST'

        def __init__(self, at_iter, marker):
            self.at_iter = at_iter
            self.marker = marker

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == self.at_iter:
                # the LoggerHook (BELOW_NORMAL) has already written this iteration's line
                with open(self.marker, 'w') as f:
                    f.write(str(runner.iter + 1))
                while True:
                    time.sleep(0.1)

    return ParkTrainingHook


try:  # registered when this module is imported through custom_imports
    import mmaction  # noqa: F401
    ParkTrainingHook = _register_park_hook()
except ImportError:  # pragma: no cover
    ParkTrainingHook = None
