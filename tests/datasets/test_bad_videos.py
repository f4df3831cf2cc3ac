"""Bad videos: missing, zero-byte, truncated (MP4 index last or first, AVI), garbage and
undecodable files give an error naming the file; SafeVideoDataset can skip and count them.

The broken files are made in pytest's tmp dir from the clips of the ``generated_clips``
fixture (H.264 MP4 and Xvid AVI); whole real clips of ../shared/videos are checked too where
present."""
import logging
import os.path as osp
import re
import shutil
import subprocess
import struct

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

import sdc_mmaction  # noqa: F401  (registration)
from mmaction.registry import DATASETS, TRANSFORMS
from sdc_mmaction.datasets import VideoReadError, check_video_file, concept_pipeline

init_default_scope('mmaction')


def truncate(src, dst, fraction):
    with open(src, 'rb') as f:
        data = f.read()
    with open(dst, 'wb') as f:
        f.write(data[:int(len(data) * fraction)])
    return str(dst)


def mp4_boxes(path):
    with open(path, 'rb') as f:
        data = f.read()
    boxes, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack('>I4s', data[pos:pos + 8])
        boxes.append((kind, pos, size))
        pos += size
    return data, boxes


@pytest.fixture(scope='module')
def bad_videos(generated_clips, tmp_path_factory):
    """name -> path of a broken copy (plus 'good', a 32-frame H.264 clip used as is)."""
    tmp = tmp_path_factory.mktemp('bad_videos')
    good = generated_clips['h264_32frames_96x72.mp4']
    files = dict(good=good)
    files['zero_byte'] = str(tmp / 'zero_byte.mp4')
    open(files['zero_byte'], 'wb').close()
    files['garbage'] = str(tmp / 'garbage.mp4')
    with open(files['garbage'], 'wb') as f:
        f.write(b'not a video at all ' * 500)
    files['missing'] = str(tmp / 'missing.mp4')
    # MP4 with its index (moov) at the end, cut in the middle of the frame data
    data, boxes = mp4_boxes(good)
    assert [b[0] for b in boxes][-1] == b'moov'
    files['truncated_mp4'] = truncate(good, tmp / 'truncated.mp4', 0.6)
    # MP4 with its index first ("faststart"), cut in the frame data: decord opens it and
    # would only fail on the missing frames
    import imageio_ffmpeg
    faststart = str(tmp / 'faststart.mp4')
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-y', '-loglevel', 'error', '-i', good,
                    '-c', 'copy', '-movflags', '+faststart', faststart], check=True)
    files['truncated_faststart_mp4'] = truncate(faststart, tmp / 'truncated_fs.mp4', 0.5)
    # AVI cut in half: decord crashes the process on it when reading from memory (as
    # MMAction2's DecordInit does) and reads it silently short from its path
    files['truncated_avi'] = truncate(generated_clips['xvid_60frames_80x60.avi'],
                                      tmp / 'truncated.avi', 0.5)
    # whole file, but garbage inside the frame data: passes the structural check and only
    # fails when decoded
    data, boxes = mp4_boxes(faststart)
    kind, pos, size = next(b for b in boxes if b[0] == b'mdat')
    corrupt = bytearray(data)
    start = pos + 8 + (size - 8) // 3
    corrupt[start:start + 4000] = b'\xff' * 4000
    files['corrupt_frames'] = str(tmp / 'corrupt_frames.mp4')
    with open(files['corrupt_frames'], 'wb') as f:
        f.write(bytes(corrupt))
    return files


def write_list(tmp_path, paths, name='list.txt'):
    ann = tmp_path / name
    ann.write_text(''.join(f'{p} {i}\n' for i, p in enumerate(paths)))
    return str(ann)


def build_dataset(ann, pipeline=None, **kwargs):
    # clip_len 31 + 1 frames: every frame of the 32-frame clip is decoded
    pipeline = pipeline or concept_pipeline(clip_len=31, img_size=32, test_mode=True)
    # serialize_data=False: mmengine's serialisation runs gc.collect(), ~0.5 s per dataset
    return DATASETS.build(dict(type='SafeVideoDataset', ann_file=ann, serialize_data=False,
                               data_prefix=dict(video=''), pipeline=pipeline, **kwargs))


BAD = ['zero_byte', 'garbage', 'missing', 'truncated_mp4', 'truncated_faststart_mp4',
       'truncated_avi', 'corrupt_frames']


def clip_len_for(kind):
    # the damaged frames of 'corrupt_frames' are found only by decoding all 32 frames
    return 31 if kind == 'corrupt_frames' else 4


@pytest.mark.parametrize('kind', BAD)
def test_bad_video_error_names_the_file(bad_videos, tmp_path, kind):
    path = bad_videos[kind]
    for test_mode in (True, False):
        dataset = build_dataset(write_list(tmp_path, [path]), test_mode=test_mode,
                                pipeline=concept_pipeline(clip_len=clip_len_for(kind),
                                                          img_size=32, test_mode=test_mode))
        with pytest.raises(VideoReadError, match=re.escape(path)) as info:
            dataset[0]
        assert info.value.filename == path


@pytest.mark.parametrize('kind,reason', [
    ('zero_byte', 'empty'), ('missing', 'no such file'), ('truncated_mp4', 'truncated'),
    ('truncated_faststart_mp4', 'truncated'), ('truncated_avi', 'truncated')])
def test_structural_check_reasons(bad_videos, kind, reason):
    with pytest.raises(VideoReadError, match=reason):
        check_video_file(bad_videos[kind])


def test_structural_check_passes_whole_generated_files(generated_clips):
    assert len(generated_clips) >= 4
    for path in generated_clips.values():
        check_video_file(path)


def test_structural_check_passes_whole_real_files(shared_videos, bad_videos):
    for name in ('short_32frames.mp4', 'test_320x240.avi', 'ntu_1920x1080.avi',
                 'arm_wrestling_340x256.mp4', 'lowfps_57frames.mp4'):
        assert check_video_file(osp.join(shared_videos, name)) is None
    # the same check refuses a cut-off file, so passing above means the files are whole
    with pytest.raises(VideoReadError):
        check_video_file(bad_videos['truncated_mp4'])


def test_corrupt_frames_fail_in_decoding_with_the_file_named(bad_videos):
    path = bad_videos['corrupt_frames']
    check_video_file(path)  # whole file: only decoding finds the damage
    results = TRANSFORMS.build(dict(type='CheckedDecordInit'))(
        dict(filename=path, start_index=0, modality='RGB'))
    results['frame_inds'] = np.arange(results['total_frames'])
    with pytest.raises(VideoReadError, match=re.escape(path) + '.*decoding failed'):
        TRANSFORMS.build(dict(type='CheckedDecordDecode'))(results)


def test_stock_decord_errors_are_named_by_the_dataset(bad_videos, tmp_path):
    """With MMAction2's own DecordInit / DecordDecode, SafeVideoDataset still names the file
    (the truncated AVI is left out: it would crash the process inside decord)."""
    for kind in ('zero_byte', 'garbage', 'truncated_mp4', 'corrupt_frames'):
        path = bad_videos[kind]
        pipeline = concept_pipeline(clip_len=clip_len_for(kind), img_size=32,
                                    test_mode=True, checked_decoding=False)
        assert pipeline[0]['type'] == 'DecordInit'
        dataset = build_dataset(write_list(tmp_path, [path]), pipeline=pipeline)
        with pytest.raises(VideoReadError, match=re.escape(path)):
            dataset[0]


def test_skip_bad_videos_skips_counts_and_logs(bad_videos, tmp_path):
    paths = [bad_videos['good'], bad_videos['zero_byte'], bad_videos['good'],
             bad_videos['truncated_avi'], bad_videos['truncated_mp4']]
    dataset = build_dataset(write_list(tmp_path, paths), skip_bad_videos=True,
                            pipeline=concept_pipeline(clip_len=8, img_size=32))
    assert dataset.num_skipped == 0
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        np.random.seed(0)
        for idx in range(len(dataset)):
            sample = dataset[idx]  # bad indices fall back to a random other sample
            assert sample['inputs'].shape == (3, 3, 8, 32, 32)
            assert sample['data_samples'].filename == bad_videos['good']
    finally:
        logger.removeHandler(handler)
    bad = {bad_videos['zero_byte'], bad_videos['truncated_avi'], bad_videos['truncated_mp4']}
    assert set(dataset.skipped_files) == bad
    assert dataset.num_skipped == len(dataset.skipped_files) >= 3
    messages = [r.getMessage() for r in records]
    assert len(messages) == dataset.num_skipped
    assert all(m.startswith('skipping a bad video') for m in messages)
    assert any(bad_videos['truncated_avi'] in m for m in messages)


def test_skip_count_includes_dataloader_workers(bad_videos, tmp_path):
    paths = [bad_videos['good'], bad_videos['zero_byte'], bad_videos['garbage'],
             bad_videos['good']]
    dataset = build_dataset(write_list(tmp_path, paths), skip_bad_videos=True,
                            pipeline=concept_pipeline(clip_len=4, img_size=32))
    loader = DataLoader(dataset, batch_size=2, num_workers=2, collate_fn=pseudo_collate)
    batches = list(loader)
    assert sum(len(b['inputs']) for b in batches) == 4
    assert dataset.num_skipped >= 2  # counted in the workers, read in the main process
    assert dataset.skipped_files == []  # the file lists stay in the workers


def test_skipping_never_happens_in_test_mode(bad_videos, tmp_path):
    path = bad_videos['zero_byte']
    dataset = build_dataset(write_list(tmp_path, [bad_videos['good'], path]),
                            skip_bad_videos=True, test_mode=True)
    with pytest.raises(VideoReadError, match=re.escape(path)):
        dataset[1]
    assert dataset.num_skipped == 0


def test_pipeline_bugs_are_not_skipped(bad_videos, tmp_path):
    """Only the reader's errors count as bad videos: a broken pipeline still fails."""
    pipeline = concept_pipeline(clip_len=8, img_size=32)
    pipeline.insert(3, dict(type='PackConceptInputs'))  # before StaticFrame: no views
    dataset = build_dataset(write_list(tmp_path, [bad_videos['good']]), pipeline=pipeline,
                            skip_bad_videos=True)
    with pytest.raises(KeyError, match='PackConceptInputs: view'):
        dataset[0]
    assert dataset.num_skipped == 0


def test_video_read_error_survives_pickling():
    import pickle
    err = pickle.loads(pickle.dumps(VideoReadError('/x/y.mp4', 'the file is empty')))
    assert err.filename == '/x/y.mp4' and 'y.mp4' in str(err) and 'empty' in str(err)


@pytest.mark.parametrize('name', ['h264_32frames_96x72.mp4', 'short_32frames.mp4'])
def test_short_video_loops(video_path, tmp_path, name):
    """A video shorter than the clip follows SampleFrames' loop rule (and works)."""
    path = video_path(name)
    dataset = build_dataset(write_list(tmp_path, [path]),
                            pipeline=concept_pipeline(clip_len=40, img_size=32, test_mode=True))
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 3, 40, 32, 32)
    assert torch.isfinite(sample['inputs']).all()


def test_directory_instead_of_a_file(tmp_path):
    folder = tmp_path / 'not_a_file.mp4'
    folder.mkdir()
    with pytest.raises(VideoReadError, match='not a regular file'):
        check_video_file(str(folder))
    shutil.rmtree(folder)
