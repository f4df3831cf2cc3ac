"""Fixtures shared by the core tests (tests/) and the projects' tests (projects/*/tests):
repository paths, the real clips in ../shared/videos, a tiny generated dataset, and a
runner for the command-line tools (each tool runs in a fresh interpreter, as a user would
run it)."""
import os
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


@pytest.fixture(scope='session')
def shared_videos():
    """Folder of real clips (Apache-2.0, from MMAction2), read in place, never copied."""
    if not osp.isdir(SHARED_VIDEOS):
        raise FileNotFoundError(
            f'real test clips not found at {SHARED_VIDEOS}: clone the project next to '
            'shared/ or set SDC_SHARED_VIDEOS')
    return SHARED_VIDEOS


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
