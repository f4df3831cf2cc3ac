"""Fixtures shared by the core tests (tests/) and the projects' tests (projects/*/tests):
repository paths, small clips encoded with real codecs for the decoding and pipeline tests,
the real clips in ../shared/videos (tests that need them skip where they are absent), a
tiny generated dataset, and a runner for the command-line tools (each tool runs in a fresh
interpreter, as a user would run it)."""
import os
import socket
import os.path as osp
import subprocess
import sys

import pytest

REPO_ROOT = osp.dirname(osp.abspath(__file__))
TESTS_DIR = osp.join(REPO_ROOT, 'tests')
# the tests' shared helper modules (tests/*_helpers.py) import by name from any folder
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)
SHARED_VIDEOS = os.environ.get('SDC_SHARED_VIDEOS',
                               osp.join(osp.dirname(REPO_ROOT), 'shared', 'videos'))


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


def require_shared_videos():
    """The folder of real clips, or skip the calling test (with the reason) where it is
    absent, as on a clone without ``../shared``."""
    if not osp.isdir(SHARED_VIDEOS):
        pytest.skip(f'needs the real clips of ../shared/videos, not found at '
                    f'{SHARED_VIDEOS} (clone the project next to shared/ or set '
                    'SDC_SHARED_VIDEOS)')
    return SHARED_VIDEOS


@pytest.fixture(scope='session')
def shared_videos():
    """Folder of real clips (Apache-2.0, from MMAction2), read in place, never copied;
    a test using it skips where the folder is absent."""
    return require_shared_videos()


#: the clips of the ``generated_clips`` fixture: name -> (frames, width, height, fps,
#: ffmpeg encoder options). Lossy encodings in the containers and codecs of real footage
#: (H.264 in MP4, Xvid MPEG-4 in AVI), several lengths, a low frame count and odd sizes;
#: widths avoid those decord 0.6.0 cannot read (sdc_mmaction.datasets.synthetic).
GENERATED_CLIPS = {
    'h264_32frames_96x72.mp4': (32, 96, 72, 30, ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']),
    'h264_150frames_112x84.mp4': (150, 112, 84, 30,
                                  ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']),
    'xvid_60frames_80x60.avi': (60, 80, 60, 25, ['-c:v', 'mpeg4', '-vtag', 'XVID',
                                                 '-q:v', '5']),
    # 4:2:0 chroma needs even sizes; 4:4:4 takes odd ones
    'h264_9frames_67x51.mp4': (9, 67, 51, 6, ['-c:v', 'libx264', '-pix_fmt', 'yuv444p']),
}


def clip_frames(num_frames, width, height, seed=0):
    """uint8 RGB frames (T, H, W, 3) with texture, motion and noise: a drifting colour
    pattern, a bright box and a dark disc crossing the frame, Gaussian noise (sigma 10),
    so that a lossy codec has real work and consecutive frames differ in both signs."""
    import numpy as np
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for t in range(num_frames):
        frame = np.stack([128 + 60 * np.sin((x + 2 * t) / 9),
                          128 + 60 * np.cos((y - t) / 7),
                          100 + 80 * np.sin((x + y + 3 * t) / 13)], axis=-1)
        box_x, box_y = (5 + 3 * t) % width, height / 2 + height / 4 * np.sin(t / 5)
        frame[(np.abs(x - box_x) < width / 6) & (np.abs(y - box_y) < height / 5)] = \
            (230, 220, 40)
        disc_x = width - 1 - (4 * t) % width
        frame[(x - disc_x) ** 2 + (y - height / 3) ** 2 < (height / 6) ** 2] = (20, 30, 60)
        frame += rng.normal(0, 10, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(frames)


def encode_clip(path, frames, fps, codec_options):
    """Encode uint8 RGB frames with imageio-ffmpeg's ffmpeg."""
    import imageio_ffmpeg
    height, width = frames.shape[1:3]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), '-y', '-loglevel', 'error', '-f', 'rawvideo',
           '-pix_fmt', 'rgb24', '-s', f'{width}x{height}', '-r', str(fps), '-i', '-', '-an',
           *codec_options, '-threads', '1', path]
    proc = subprocess.run(cmd, input=frames.tobytes(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError(f'ffmpeg could not write {path}: {proc.stderr.decode()[-2000:]}')


@pytest.fixture(scope='session')
def generated_clips(tmp_path_factory):
    """name -> path of the clips of :data:`GENERATED_CLIPS`, encoded once per test run
    (about 2 s) into one folder of their own, read-only for the tests."""
    folder = tmp_path_factory.mktemp('generated_clips')
    paths = {}
    for seed, (name, (num_frames, width, height, fps, options)) in enumerate(
            sorted(GENERATED_CLIPS.items())):
        paths[name] = str(folder / name)
        encode_clip(paths[name], clip_frames(num_frames, width, height, seed), fps, options)
    return paths


@pytest.fixture(scope='session')
def video_path(generated_clips):
    """``video_path(name)``: the path of a generated clip (a key of
    :data:`GENERATED_CLIPS`) or of a real clip of ../shared/videos; for the latter the
    test skips where the real clips are absent."""
    def path(name):
        if name in generated_clips:
            return generated_clips[name]
        return osp.join(require_shared_videos(), name)

    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a test's process group)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_tool(args, cwd=REPO_ROOT, env=None, timeout=600, check=True):
    """Run ``python <args>`` (or a shell script when args[0] ends in .sh) and return it.

    Output is captured and shown on failure, so a broken tool reads like a traceback.
    """
    full_env = dict(os.environ)
    full_env.setdefault('OMP_NUM_THREADS', '1')
    full_env['PYTHONPATH'] = REPO_ROOT + os.pathsep + full_env.get('PYTHONPATH', '')
    full_env['PATH'] = osp.dirname(sys.executable) + os.pathsep + full_env.get('PATH', '')
    if env:
        full_env.update(env)
    cmd = (['bash'] if args[0].endswith('.sh') else [sys.executable]) + list(args)
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and proc.returncode != 0:
        raise command_failed(cmd, proc.returncode, proc.stdout)
    return proc


def command_failed(cmd, returncode, output):
    """The error for a command that exited with ``returncode``: the command line and the
    end of its output."""
    return AssertionError(f'command failed ({returncode}): {" ".join(cmd)}\n'
                          f'{output[-6000:]}')


@pytest.fixture(scope='session')
def tool_runner():
    return run_tool


#: options of the tiny generated dataset behind the ``generated_dataset`` fixture
GENERATED_DATASET_OPTIONS = dict(seed=0, num_static=2, num_dynamic=2, train_per_class=3,
                                 val_per_class=1, size=32, num_frames=16)


@pytest.fixture(scope='session')
def generated_dataset(tmp_path_factory):
    """Root folder of a tiny generated dataset, written once per test session (~1-2 s).

    Made by ``sdc_mmaction.datasets.synthetic.generate_dataset`` with
    :data:`GENERATED_DATASET_OPTIONS`: 2 scene classes (``red_stripes``, ``cyan_checker``)
    x 2 motion classes (``up``, ``down``), 3 training and 1 validation video per pair,
    32 x 32 pixels, 16 frames at 25 fps, lossless H.264 (decord reads them).

    Layout (paths in the lists are relative to ``<root>/videos``)::

        <root>/meta.json                         class names, counts, options
        <root>/videos/scenes/{train,val}/s{S}_d{D}_{i:03d}.mp4
        <root>/videos/motion_only/{train,val}/d{D}_{i:03d}.mp4
        <root>/annotations/{train,val}_static.txt       12 / 4 videos, label = scene S
        <root>/annotations/{train,val}_dynamic.txt      same videos, label = motion D
        <root>/annotations/{train,val}_action.txt       same videos, label = S * 2 + D
        <root>/annotations/{train,val}_motion_only.txt  12 / 4 videos of one scene,
                                                        label = motion D

    Use it as ``dict(type='VideoDataset', ann_file=f'{root}/annotations/train_action.txt',
    data_prefix=dict(video=f'{root}/videos'), pipeline=...)``; e.g.
    ``sdc_mmaction.datasets.concept_pipeline(clip_len=8, img_size=32)`` fits the videos.
    Read-only: tests must not write into it.
    """
    from sdc_mmaction.datasets.synthetic import generate_dataset

    root = tmp_path_factory.mktemp('generated_dataset')
    generate_dataset(str(root), overwrite=True, **GENERATED_DATASET_OPTIONS)
    return str(root)
