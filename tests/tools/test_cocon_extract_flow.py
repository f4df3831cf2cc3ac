"""tools/extract_flow.py: rawframes + flow in MMAction2's layout that RawframeDataset loads,
correct flow direction and scale, resumability, and unreadable videos named."""
import os
import os.path as osp

import numpy as np
import pytest

from conftest import SHARED_VIDEOS
from sdc_mmaction.apis.optical_flow import (dequantize_flow, make_flow_fn, quantize_flow)

#: a few videos of the generated dataset (TV-L1 is slow; four keep the test short)
SUBSET = 4


def load_rawframes(root, ann_file, modality, clip_len=4):
    from mmengine.registry import init_default_scope

    from mmaction.datasets import RawframeDataset
    init_default_scope('mmaction')
    tmpl = 'flow_{}_{:05d}.jpg' if modality == 'Flow' else 'img_{:05d}.jpg'
    dataset = RawframeDataset(
        ann_file=ann_file, data_prefix=dict(img=root), filename_tmpl=tmpl, modality=modality,
        pipeline=[dict(type='SampleFrames', clip_len=clip_len, frame_interval=1,
                       num_clips=1, test_mode=True),
                  dict(type='RawFrameDecode')])
    return dataset


@pytest.fixture(scope='module')
def extracted(generated_dataset, tool_runner, tmp_path_factory):
    out = tmp_path_factory.mktemp('flow')
    with open(osp.join(generated_dataset, 'annotations', 'train_action.txt')) as f:
        lines = f.readlines()[:SUBSET]
    video_list = out / 'subset.txt'
    video_list.write_text(''.join(lines))
    root = out / 'rawframes'
    proc = tool_runner(['tools/extract_flow.py', osp.join(generated_dataset, 'videos'),
                        str(root), '--video-list', str(video_list), '--workers', '2'])
    return dict(root=str(root), lines=lines, list=str(video_list),
                videos=osp.join(generated_dataset, 'videos'), stdout=proc.stdout)


def test_layout_lists_and_rawframe_dataset(extracted):
    root = extracted['root']
    assert 'extracted 4, skipped 0' in extracted['stdout']
    assert 'frames/s per core' in extracted['stdout']
    rgb_list = osp.join(root, 'subset_rgb.txt')
    flow_list = osp.join(root, 'subset_flow.txt')
    rgb_lines = open(rgb_list).read().split('\n')[:-1]
    flow_lines = open(flow_list).read().split('\n')[:-1]
    assert len(rgb_lines) == len(flow_lines) == SUBSET
    for source, rgb, flow in zip(extracted['lines'], rgb_lines, flow_lines):
        path, label = source.split()
        frame_dir = osp.splitext(path)[0]
        assert rgb == f'{frame_dir} 16 {label}'  # the generated videos have 16 frames
        assert flow == f'{frame_dir} 15 {label}'
        files = set(os.listdir(osp.join(root, frame_dir)))
        assert {'img_00001.jpg', 'img_00016.jpg', 'flow_x_00015.jpg', 'flow_y_00001.jpg',
                '.done'} <= files
        assert 'flow_x_00016.jpg' not in files and 'img_00017.jpg' not in files
    flow = load_rawframes(root, flow_list, 'Flow')[0]
    assert len(flow['imgs']) == 4 and flow['imgs'][0].shape == (32, 32, 2)
    rgb = load_rawframes(root, rgb_list, 'RGB')[0]
    assert rgb['imgs'][0].shape == (32, 32, 3)


def test_second_run_skips_finished_videos(extracted, tool_runner):
    root = extracted['root']
    frame_dir = osp.join(root, osp.splitext(extracted['lines'][0].split()[0])[0])
    stamp = os.stat(osp.join(frame_dir, 'flow_x_00001.jpg')).st_mtime_ns
    os.remove(osp.join(extracted['root'], osp.splitext(extracted['lines'][1].split()[0])[0],
                       '.done'))  # as if interrupted before this video finished
    proc = tool_runner(['tools/extract_flow.py', extracted['videos'], root, '--video-list',
                        extracted['list'], '--no-progress'])
    assert 'extracted 1, skipped 3' in proc.stdout
    assert os.stat(osp.join(frame_dir, 'flow_x_00001.jpg')).st_mtime_ns == stamp
    assert len(open(osp.join(root, 'subset_flow.txt')).readlines()) == SUBSET


def test_unreadable_videos_are_named_and_fail_the_run(extracted, tool_runner, tmp_path):
    videos = tmp_path / 'videos'
    videos.mkdir()
    good = extracted['lines'][0].split()[0]
    os.symlink(osp.join(extracted['videos'], good), videos / 'good.mp4')
    data = open(osp.join(extracted['videos'], good), 'rb').read()
    (videos / 'truncated.mp4').write_bytes(data[:len(data) // 2])
    (videos / 'list.txt').write_text('good.mp4 1\ntruncated.mp4 0\nmissing.mp4 0\n')
    proc = tool_runner(['tools/extract_flow.py', str(videos), str(tmp_path / 'out'),
                        '--video-list', str(videos / 'list.txt'), '--method', 'farneback',
                        '--no-progress'], check=False)
    assert proc.returncode == 1
    assert 'FAILED ' + str(videos / 'truncated.mp4') in proc.stdout
    assert 'FAILED ' + str(videos / 'missing.mp4') + ': no such file' in proc.stdout
    assert open(tmp_path / 'out' / 'list_flow.txt').read() == 'good 15 1\n'


@pytest.mark.parametrize('method', ['tvl1', 'farneback'])
def test_flow_direction_and_scale(method):
    import cv2
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (64, 80)).astype(np.uint8), (0, 0), 2)
    prev, nxt = texture[:, 10:74], texture[:, 8:72]  # content moves 2 px to the right
    flow = make_flow_fn(method)(np.ascontiguousarray(prev), np.ascontiguousarray(nxt))
    inner = flow[12:-12, 12:-12]
    assert inner[..., 0].mean() == pytest.approx(2.0, abs=0.3)
    assert inner[..., 1].mean() == pytest.approx(0.0, abs=0.3)
    flow_x, _ = quantize_flow(flow, bound=20)
    assert dequantize_flow(flow_x, 20)[12:-12, 12:-12].mean() == pytest.approx(2.0, abs=0.35)


def test_quantize_clips_and_round_trips():
    flow = np.array([[[-30.0, 0.0], [5.0, 25.0]]], dtype=np.float32)
    x, y = quantize_flow(flow, bound=20)
    assert x.tolist() == [[0, 159]] and y.tolist() == [[128, 255]]
    assert np.abs(dequantize_flow(x, 20) - np.clip(flow[..., 0], -20, 20)).max() <= 20 / 255
    with pytest.raises(ValueError, match='bound'):
        quantize_flow(flow, bound=0)


def _real_clip(tmp_path):
    clip = osp.join(SHARED_VIDEOS, 'short_32frames.mp4')
    if not osp.isfile(clip):
        pytest.skip(f'real clip not found at {clip} (set SDC_SHARED_VIDEOS)')
    (tmp_path / 'list.txt').write_text('short_32frames.mp4 3\n')
    return str(tmp_path / 'list.txt')


@pytest.fixture(scope='module')
def real_clip_frames(tool_runner, tmp_path_factory):
    """Frames and Farneback flow of a real clip at short side 240 (the UCF-101 configs')."""
    tmp_path = tmp_path_factory.mktemp('real_clip')
    video_list = _real_clip(tmp_path)
    root = tmp_path / 'out'
    tool_runner(['tools/extract_flow.py', SHARED_VIDEOS, str(root), '--video-list',
                 video_list, '--method', 'farneback', '--short-side', '240', '--no-progress'])
    return root


def test_real_clip_farneback(real_clip_frames):
    root = real_clip_frames
    assert open(root / 'list_flow.txt').read() == 'short_32frames 31 3\n'
    assert open(root / 'list_rgb.txt').read() == 'short_32frames 32 3\n'
    flow = load_rawframes(str(root), str(root / 'list_flow.txt'), 'Flow', clip_len=8)[0]
    frames = np.stack(flow['imgs'])
    assert frames.shape == (8, 240, 319, 2)  # 340 x 256 scaled to a 240-pixel short side
    assert frames.std() > 0  # the clip moves
    rgb = load_rawframes(str(root), str(root / 'list_rgb.txt'), 'RGB')[0]
    assert rgb['imgs'][0].shape == (240, 319, 3)


def test_real_clip_tvl1(tool_runner, tmp_path):
    video_list = _real_clip(tmp_path)
    root = tmp_path / 'out'
    # TV-L1 costs about a second per 170 x 128 frame on one core: a few small frames
    tool_runner(['tools/extract_flow.py', SHARED_VIDEOS, str(root), '--video-list',
                 video_list, '--short-side', '48', '--max-frames', '4', '--no-progress'])
    assert open(root / 'list_flow.txt').read() == 'short_32frames 3 3\n'
    flow = load_rawframes(str(root), str(root / 'list_flow.txt'), 'Flow', clip_len=3)[0]
    assert np.stack(flow['imgs']).shape == (3, 48, 64, 2)


@pytest.mark.parametrize('config', ['cocon_r18-2d3d_8xb16-40x3x1-100e_ucf101-rgb-flow.py',
                                    'cocon_r18-2d3d_8xb16-40x3x1-100e_ucf101-rgb-diff.py'])
def test_full_size_pipeline_on_real_clip_frames(config, real_clip_frames):
    """The UCF-101 configs' pipelines (224 crops of frames at short side 240, 8 blocks of
    5 frames at 128 px) on frames and flow the tool wrote from a real clip."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import DATASETS
    root = real_clip_frames
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))), 'configs', 'cocon', config))
    init_default_scope('mmaction')
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_prefix = dict(img=str(root))
    dataset_cfg.ann_file = str(root / ('list_flow.txt' if 'flow' in config
                                       else 'list_rgb.txt'))
    sample = DATASETS.build(dataset_cfg)[0]
    second = 'flow' if 'flow' in config else 'diff'
    assert sample['inputs']['rgb'].shape == (8, 3, 5, 128, 128)
    assert sample['inputs'][second].shape == (8, 2 if second == 'flow' else 3, 5, 128, 128)
    if second == 'diff':
        assert sample['inputs']['diff'].min() < 0 < sample['inputs']['diff'].max()
