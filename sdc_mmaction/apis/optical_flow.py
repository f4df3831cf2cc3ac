"""Optical flow extraction into MMAction2's rawframe layout (library behind
``tools/extract_flow.py``).

For a video ``<video_root>/<rel>.mp4`` the frames folder ``<out_root>/<rel>/`` receives

- ``img_00001.jpg .. img_<n>.jpg``: the n decoded frames (RGB), optionally resized so
  that the short side is ``short_side``;
- ``flow_x_00001.jpg .. flow_x_<n-1>.jpg`` and ``flow_y_*``: the flow from frame i to
  frame i + 1, each component clipped to ``[-bound, bound]`` pixels and stored as
  ``round(255 * (u + bound) / (2 * bound))`` (127.5 is no motion);
- ``.done``: a JSON marker written last (frame counts, method, seconds), so an
  interrupted run redoes only the videos without one.

List files for ``RawframeDataset`` (``frame_dir total_frames label``, frame_dir relative
to ``out_root``): ``<name>_rgb.txt`` counts the n RGB frames, ``<name>_flow.txt`` the n - 1
frames that have flow; indices 1 .. n - 1 are valid for both, so the flow list also serves
pipelines that read the RGB frames and the flow of the same indices.
"""
import json
import os
import os.path as osp
import shutil
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..datasets.video_integrity import VideoReadError, check_video_file, describe_error

DONE_MARKER = '.done'
METHODS = ('tvl1', 'farneback')
RGB_TEMPLATE = 'img_{:05d}.jpg'
FLOW_TEMPLATE = 'flow_{}_{:05d}.jpg'
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v')


def make_flow_fn(method: str):
    """A function ``(prev_gray, next_gray) -> (H, W, 2) float32`` flow in pixels."""
    import cv2

    if method == 'tvl1':
        if not hasattr(cv2, 'optflow'):
            raise RuntimeError('TV-L1 needs OpenCV\'s contrib modules (cv2.optflow); install '
                               'opencv-contrib-python or use --method farneback')
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        return lambda prev, nxt: tvl1.calc(prev, nxt, None)
    if method == 'farneback':
        return lambda prev, nxt: cv2.calcOpticalFlowFarneback(
            prev, nxt, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
            poly_sigma=1.2, flags=0)
    raise ValueError(f'unknown optical flow method {method!r}; choose one of {METHODS}')


def quantize_flow(flow: np.ndarray, bound: float) -> Tuple[np.ndarray, np.ndarray]:
    """``(H, W, 2)`` flow in pixels -> two uint8 images (x, y), ``[-bound, bound]`` mapped
    linearly to ``[0, 255]``."""
    if not bound > 0:
        raise ValueError(f'quantize_flow: bound must be positive, got {bound}')
    scaled = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2 * bound))
    image = np.rint(scaled).astype(np.uint8)
    return image[..., 0], image[..., 1]


def dequantize_flow(image: np.ndarray, bound: float) -> np.ndarray:
    """Inverse of :func:`quantize_flow` for one component (up to rounding)."""
    return image.astype(np.float32) * (2 * bound / 255.0) - bound


def read_frames(video: str, short_side: Optional[int] = None,
                max_frames: Optional[int] = None) -> List[np.ndarray]:
    """Decode ``video`` with OpenCV into BGR frames, resized to ``short_side`` when given.

    Raises:
        VideoReadError: missing, empty, truncated or undecodable file, or fewer than two
            frames (no flow can be computed).
    """
    import cv2

    check_video_file(video)
    capture = cv2.VideoCapture(video)
    if not capture.isOpened():
        raise VideoReadError(video, 'OpenCV cannot open it')
    frames = []
    try:
        while max_frames is None or len(frames) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if short_side:
                height, width = frame.shape[:2]
                scale = short_side / min(height, width)
                if scale != 1:
                    size = (max(1, round(width * scale)), max(1, round(height * scale)))
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            frames.append(frame)
    finally:
        capture.release()
    if len(frames) < 2:
        raise VideoReadError(video, f'decoded {len(frames)} frame(s); flow needs at least 2')
    return frames


def is_done(frame_dir: str) -> Optional[dict]:
    """The marker of a finished frames folder, or None."""
    marker = osp.join(frame_dir, DONE_MARKER)
    if not osp.isfile(marker):
        return None
    try:
        with open(marker) as handle:
            info = json.load(handle)
        return info if isinstance(info, dict) and 'num_frames' in info else None
    except (OSError, ValueError):
        return None


def extract_video(video: str, frame_dir: str, method: str = 'tvl1', bound: float = 20.0,
                  short_side: Optional[int] = None, max_frames: Optional[int] = None,
                  jpeg_quality: int = 95) -> dict:
    """Write the RGB frames and the flow of one video into ``frame_dir`` (see the module
    docstring). A partial folder from an interrupted run is replaced.

    Returns:
        dict: ``num_frames`` (RGB), ``num_flow`` (= num_frames - 1), ``method``,
        ``bound``, ``seconds`` (decoding, flow and writing), ``flow_seconds`` (flow only).
    """
    import cv2

    start = time.perf_counter()
    frames = read_frames(video, short_side=short_side, max_frames=max_frames)
    if osp.isdir(frame_dir):
        shutil.rmtree(frame_dir)
    os.makedirs(frame_dir)
    flow_fn = make_flow_fn(method)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), jpeg_quality]
    flow_seconds = 0.0
    prev_gray = None
    for index, frame in enumerate(frames, start=1):
        if not cv2.imwrite(osp.join(frame_dir, RGB_TEMPLATE.format(index)), frame, params):
            raise OSError(f'cannot write frames into {frame_dir}')
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if prev_gray is not None:
            tic = time.perf_counter()
            flow = flow_fn(prev_gray, gray)
            flow_seconds += time.perf_counter() - tic
            flow_x, flow_y = quantize_flow(flow, bound)
            cv2.imwrite(osp.join(frame_dir, FLOW_TEMPLATE.format('x', index - 1)), flow_x,
                        params)
            cv2.imwrite(osp.join(frame_dir, FLOW_TEMPLATE.format('y', index - 1)), flow_y,
                        params)
        prev_gray = gray
    info = dict(num_frames=len(frames), num_flow=len(frames) - 1, method=method, bound=bound,
                short_side=short_side, height=int(frames[0].shape[0]),
                width=int(frames[0].shape[1]), seconds=time.perf_counter() - start,
                flow_seconds=flow_seconds)
    with open(osp.join(frame_dir, DONE_MARKER), 'w') as handle:
        json.dump(info, handle)
    return info


def read_video_list(list_file: Optional[str], video_root: str) -> List[Tuple[str, int]]:
    """``(relative path, label)`` pairs: from a MMAction2 video list (``path label`` per
    line; the label is optional and -1 when absent) or, without a list, every video file
    under ``video_root``."""
    entries = []
    if list_file:
        with open(list_file) as handle:
            for number, line in enumerate(handle, start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) > 2:
                    raise ValueError(f'{list_file}:{number}: expected "path [label]", got '
                                     f'{line.strip()!r}')
                try:
                    label = int(parts[1]) if len(parts) == 2 else -1
                except ValueError:
                    raise ValueError(f'{list_file}:{number}: label {parts[1]!r} is not an '
                                     'integer') from None
                entries.append((parts[0], label))
        return entries
    for folder, _, files in sorted(os.walk(video_root)):
        for name in sorted(files):
            if name.lower().endswith(VIDEO_EXTENSIONS):
                rel = osp.relpath(osp.join(folder, name), video_root)
                entries.append((rel, -1))
    return entries


def frame_dir_name(rel_path: str) -> str:
    """The frames folder of a video, relative to the output root: its path without the
    extension."""
    return osp.splitext(rel_path)[0]


def _work(task):
    video, frame_dir, options = task
    import cv2
    cv2.setNumThreads(1)  # one core per worker, so throughput scales with --workers
    existing = is_done(frame_dir)
    if existing is not None:
        return video, 'skipped', existing
    try:
        return video, 'done', extract_video(video, frame_dir, **options)
    except VideoReadError as error:
        return video, 'failed', error.reason
    except Exception as error:  # noqa: BLE001 - reported per video, the run goes on
        return video, 'failed', describe_error(error)


def write_lists(out_root: str, name: str, entries: Sequence[Tuple[str, int]],
                infos: Dict[str, dict]) -> Tuple[str, str]:
    """Write ``<out_root>/<name>_rgb.txt`` and ``<name>_flow.txt`` for the finished
    videos among ``entries`` (in list order); returns their paths."""
    rgb_path = osp.join(out_root, f'{name}_rgb.txt')
    flow_path = osp.join(out_root, f'{name}_flow.txt')
    with open(rgb_path, 'w') as rgb, open(flow_path, 'w') as flow:
        for rel, label in entries:
            info = infos.get(rel)
            if info is None:
                continue
            frame_dir = frame_dir_name(rel)
            suffix = '' if label < 0 else f' {label}'
            rgb.write(f'{frame_dir} {info["num_frames"]}{suffix}\n')
            flow.write(f'{frame_dir} {info["num_flow"]}{suffix}\n')
    return rgb_path, flow_path


def extract_flow_dataset(video_root: str, out_root: str, list_file: Optional[str] = None,
                         list_name: Optional[str] = None, method: str = 'tvl1',
                         bound: float = 20.0, short_side: Optional[int] = None,
                         max_frames: Optional[int] = None, workers: int = 1,
                         progress: bool = True) -> dict:
    """Extract every video of ``list_file`` (or under ``video_root``) in ``workers``
    processes, skip finished ones, and write the list files.

    Returns:
        dict: ``done`` / ``skipped`` / ``failed`` counts, ``failures`` (list of
        ``(video, reason)``), ``lists`` (rgb and flow list paths), ``flow_frames``,
        ``flow_seconds`` (flow computation only) and ``seconds`` (decoding, flow and
        writing) summed over the videos extracted in this run, and ``infos``.
    """
    if method not in METHODS:
        raise ValueError(f'unknown optical flow method {method!r}; choose one of {METHODS}')
    if not osp.isdir(video_root):
        raise FileNotFoundError(f'video folder not found: {video_root}')
    if list_file is not None and not osp.isfile(list_file):
        raise FileNotFoundError(f'video list not found: {list_file}')
    make_flow_fn(method)  # fail before forking when contrib is missing
    entries = read_video_list(list_file, video_root)
    if not entries:
        raise ValueError(f'no videos to extract (list {list_file}, folder {video_root})')
    options = dict(method=method, bound=bound, short_side=short_side, max_frames=max_frames)
    tasks = [(osp.join(video_root, rel), osp.join(out_root, frame_dir_name(rel)), options)
             for rel, _ in entries]
    by_video = {osp.join(video_root, rel): rel for rel, _ in entries}
    os.makedirs(out_root, exist_ok=True)

    results = _run(tasks, workers, progress)
    infos, failures, counts = {}, [], dict(done=0, skipped=0, failed=0)
    flow_frames, flow_seconds, seconds = 0, 0.0, 0.0
    for video, status, payload in results:
        counts[status] += 1
        if status == 'failed':
            failures.append((video, payload))
            continue
        infos[by_video[video]] = payload
        if status == 'done':
            flow_frames += payload['num_flow']
            flow_seconds += payload['flow_seconds']
            seconds += payload['seconds']
    if list_name is None:
        list_name = osp.splitext(osp.basename(list_file))[0] if list_file else 'videos'
    lists = write_lists(out_root, list_name, entries, infos)
    return dict(counts, failures=sorted(failures), lists=lists, flow_frames=flow_frames,
                flow_seconds=flow_seconds, seconds=seconds, infos=infos)


def _run(tasks: list, workers: int, progress: bool) -> Iterable[tuple]:
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    bar = tqdm(total=len(tasks), unit='video', disable=not progress)
    results = []
    if workers == 1:
        for task in tasks:
            results.append(_work(task))
            bar.update()
    else:
        import multiprocessing
        with multiprocessing.get_context('fork').Pool(workers) as pool:
            for result in pool.imap_unordered(_work, tasks):
                results.append(result)
                bar.update()
    bar.close()
    return results
