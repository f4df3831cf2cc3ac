"""Shared fixtures: repository paths, the real clips in ../shared/videos, and a runner for
the command-line tools (each tool runs in a fresh interpreter, as a user would run it)."""
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
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
        raise AssertionError(f'command failed ({proc.returncode}): {" ".join(cmd)}\n'
                             f'{proc.stdout[-6000:]}')
    return proc


@pytest.fixture(scope='session')
def tool_runner():
    return run_tool
