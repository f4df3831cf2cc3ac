"""Throughput of the SDC data pipeline against MMAction2's stock video pipeline.

Both pipelines read the same videos through MMAction2's ``VideoDataset`` in the same
process, in alternating rounds (stock first in even rounds, SDC first in odd ones) so
that caches and machine load affect both alike. A "clip" is one dataset sample: for the
stock pipeline one RGB clip, for SDC one clip with its static frame and difference
views (T + 1 frames decoded). The pipelines are built by
:func:`sdc_mmaction.datasets.concept_pipeline` and :func:`~sdc_mmaction.datasets.stock_pipeline`
with the same clip length and crop size.
"""
import os
import os.path as osp
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov')


def list_videos(video_dir: str) -> List[str]:
    """Video files directly in ``video_dir`` (sorted), by extension."""
    names = sorted(n for n in os.listdir(video_dir)
                   if n.lower().endswith(VIDEO_EXTENSIONS)
                   and osp.isfile(osp.join(video_dir, n)))
    if not names:
        raise FileNotFoundError(f'no video files ({", ".join(VIDEO_EXTENSIONS)}) in {video_dir}')
    return names


def _time_samples(dataset, indices: List[int]) -> Tuple[float, float]:
    """Wall-clock and process CPU seconds to load ``dataset[idx]`` for every index."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for idx in indices:
        dataset[idx]
    return time.perf_counter() - start, time.process_time() - start_cpu


def benchmark_pipelines(ann_file: Optional[str] = None,
                        *,
                        video_dir: Optional[str] = None,
                        data_prefix: Optional[str] = None,
                        clip_len: int = 16,
                        img_size: int = 112,
                        clips_per_round: int = 20,
                        rounds: int = 3,
                        warmup: int = 2,
                        static_crop: str = 'independent',
                        seed: int = 0) -> Dict:
    """Measure clips per second of both pipelines on the same videos.

    Args:
        ann_file (str, optional): an MMAction2 video list (``path label`` per line).
        video_dir (str, optional): instead of ``ann_file``: every video in this folder.
        data_prefix (str, optional): folder the list's paths are relative to (defaults to
            ``video_dir``, or nothing for ``ann_file``).
        clip_len (int): T. Defaults to 16.
        img_size (int): crop size. Defaults to 112.
        clips_per_round (int): samples per pipeline per round. Defaults to 20.
        rounds (int): timed rounds. Defaults to 3.
        warmup (int): untimed samples per pipeline first. Defaults to 2.
        static_crop (str): SDC's ``static_crop`` option. Defaults to ``'independent'``.
        seed (int): seeds numpy's global generator (the transforms' randomness).

    Returns:
        dict with ``stock_clips_per_s``, ``sdc_clips_per_s``, ``ratio`` (SDC / stock, wall
        clock), the same per CPU second of this process (``*_clips_per_cpu_s``,
        ``cpu_ratio``: less sensitive to other processes on a shared machine), per-round
        wall-clock figures, the number of videos and the settings.
    """
    import sdc_mmaction  # noqa: F401  (registration)
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    from sdc_mmaction.datasets import concept_pipeline, stock_pipeline

    if (ann_file is None) == (video_dir is None):
        raise ValueError('give exactly one of ann_file and video_dir')
    if clips_per_round < 1 or rounds < 1:
        raise ValueError(f'clips_per_round={clips_per_round} and rounds={rounds} must be >= 1')
    init_default_scope('mmaction')
    tmp = None
    if video_dir is not None:
        names = list_videos(video_dir)
        tmp = tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False)
        tmp.write(''.join(f'{name} 0\n' for name in names))
        tmp.close()
        ann_file = tmp.name
        data_prefix = video_dir if data_prefix is None else data_prefix
    try:
        common = dict(type='VideoDataset', ann_file=ann_file,
                      data_prefix=dict(video=data_prefix or ''))
        datasets = dict(
            stock=DATASETS.build(dict(common, pipeline=stock_pipeline(clip_len, img_size))),
            sdc=DATASETS.build(dict(common, pipeline=concept_pipeline(
                clip_len, img_size, static_crop=static_crop))))
        num_videos = len(datasets['stock'])
        np.random.seed(seed)
        for name, dataset in datasets.items():
            _time_samples(dataset, [i % num_videos for i in range(warmup)])
        seconds = dict(stock=[], sdc=[])
        cpu_seconds = dict(stock=0.0, sdc=0.0)
        for r in range(rounds):
            indices = [(r * clips_per_round + i) % num_videos for i in range(clips_per_round)]
            order = ('stock', 'sdc') if r % 2 == 0 else ('sdc', 'stock')
            for name in order:
                wall, cpu = _time_samples(datasets[name], indices)
                seconds[name].append(wall)
                cpu_seconds[name] += cpu
    finally:
        if tmp is not None:
            os.unlink(tmp.name)

    clips = clips_per_round * rounds
    stock_rate = clips / sum(seconds['stock'])
    sdc_rate = clips / sum(seconds['sdc'])
    stock_cpu_rate = clips / max(cpu_seconds['stock'], 1e-9)
    sdc_cpu_rate = clips / max(cpu_seconds['sdc'], 1e-9)
    return dict(
        stock_clips_per_s=stock_rate,
        sdc_clips_per_s=sdc_rate,
        ratio=sdc_rate / stock_rate,
        stock_clips_per_cpu_s=stock_cpu_rate,
        sdc_clips_per_cpu_s=sdc_cpu_rate,
        cpu_ratio=sdc_cpu_rate / stock_cpu_rate,
        per_round_clips_per_s=dict(
            stock=[clips_per_round / s for s in seconds['stock']],
            sdc=[clips_per_round / s for s in seconds['sdc']]),
        clips_per_pipeline=clips,
        num_videos=num_videos,
        settings=dict(clip_len=clip_len, img_size=img_size, clips_per_round=clips_per_round,
                      rounds=rounds, warmup=warmup, static_crop=static_crop, seed=seed,
                      ann_file=None if video_dir is not None else ann_file,
                      video_dir=video_dir, omp_num_threads=os.environ.get('OMP_NUM_THREADS')),
    )


def format_report(result: Dict, target: float = 0.8) -> str:
    """Human-readable lines for a :func:`benchmark_pipelines` result."""
    s = result['settings']
    lines = [
        f"videos: {result['num_videos']}, clip {s['clip_len']} x {s['img_size']} x "
        f"{s['img_size']}, {result['clips_per_pipeline']} clips per pipeline "
        f"({s['rounds']} rounds of {s['clips_per_round']}), static crop {s['static_crop']}",
        f"stock MMAction2 pipeline: {result['stock_clips_per_s']:.2f} clips/s  (rounds: "
        + ', '.join(f'{x:.2f}' for x in result['per_round_clips_per_s']['stock']) + ')',
        f"SDC pipeline:             {result['sdc_clips_per_s']:.2f} clips/s  (rounds: "
        + ', '.join(f'{x:.2f}' for x in result['per_round_clips_per_s']['sdc']) + ')',
        f"ratio SDC / stock: {result['ratio']:.3f} (target >= {target}: "
        f"{'met' if result['ratio'] >= target else 'NOT met'})",
        f"per CPU second (process time, less sensitive to other load): stock "
        f"{result['stock_clips_per_cpu_s']:.2f}, SDC {result['sdc_clips_per_cpu_s']:.2f}, "
        f"ratio {result['cpu_ratio']:.3f}",
    ]
    return '\n'.join(lines)


__all__ = ['benchmark_pipelines', 'format_report', 'list_videos']
