"""Decord loading that names the file when a video is missing, empty, truncated or broken."""
import os.path as osp
from typing import Dict

import numpy as np

from mmaction.datasets.transforms import DecordDecode, DecordInit
from mmaction.registry import TRANSFORMS
from ..video_integrity import VideoReadError, check_video_file, describe_error, is_local_path


def _decoder_errors() -> tuple:
    errors = [RuntimeError, OSError]
    try:
        from decord._ffi.base import DECORDError
        errors.append(DECORDError)
    except ImportError:  # pragma: no cover - decord missing: DecordInit says so itself
        pass
    return tuple(errors)


@TRANSFORMS.register_module()
class CheckedDecordInit(DecordInit):
    """``DecordInit`` that checks the file first and names it in every error.

    Differences from MMAction2's ``DecordInit`` (same keys, same arguments):

    - a local file is first checked by :func:`~sdc_mmaction.datasets.video_integrity.
      check_video_file` (missing, empty, truncated MP4 / AVI), then opened by its path
      instead of through an in-memory copy: decord crashes the process (segmentation
      fault) on a truncated AVI held in memory, and it reads the same frames either way;
    - any failure to open raises :class:`VideoReadError` naming the file, and so does a
      video with no frames (``SampleFrames`` would otherwise divide by zero).

    Remote files (``io_backend`` other than ``'disk'``, or file-client arguments) are read
    into memory as ``DecordInit`` does, with the same error wrapping.

    Required keys: filename. Added keys: video_reader, total_frames, avg_fps.

    Args:
        io_backend (str): as in ``DecordInit``. Defaults to ``'disk'``.
        num_threads (int): decoding threads. Defaults to 1.
        check_integrity (bool): run the structural check on local files.
            Defaults to True.
        kwargs (dict): file-client arguments, as in ``DecordInit``.
    """

    def __init__(self,
                 io_backend: str = 'disk',
                 num_threads: int = 1,
                 check_integrity: bool = True,
                 **kwargs) -> None:
        super().__init__(io_backend=io_backend, num_threads=num_threads, **kwargs)
        self.check_integrity = check_integrity

    def transform(self, results: Dict) -> Dict:
        filename = results['filename']
        if osp.splitext(filename)[0] == filename:  # DecordInit's rule for bare names
            filename = filename + '.mp4'
        local = self.io_backend == 'disk' and not self.kwargs and is_local_path(filename)
        if local and self.check_integrity:
            check_video_file(filename)
        try:
            if local:
                import decord
                container = decord.VideoReader(filename, num_threads=self.num_threads)
            else:
                container = self._get_video_reader(filename)
            total_frames = len(container)
            avg_fps = container.get_avg_fps()
        except ImportError:
            raise
        except Exception as err:
            raise VideoReadError(filename, f'decord cannot open it ({describe_error(err)})') \
                from err
        if total_frames <= 0:
            raise VideoReadError(filename, 'the video has no frames')
        results['total_frames'] = total_frames
        results['video_reader'] = container
        results['avg_fps'] = avg_fps
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(io_backend={self.io_backend}, '
                f'num_threads={self.num_threads}, check_integrity={self.check_integrity})')


@TRANSFORMS.register_module()
class CheckedDecordDecode(DecordDecode):
    """``DecordDecode`` whose decoding errors raise :class:`VideoReadError` naming the file.

    Same keys and arguments as MMAction2's ``DecordDecode``. Catches the decoder's own
    errors (decord's ``DECORDError``, ``RuntimeError``, ``OSError``) only, so mistakes in
    the pipeline itself still surface as what they are.
    """

    def transform(self, results: Dict) -> Dict:
        try:
            return super().transform(results)
        except VideoReadError:
            raise
        except _decoder_errors() as err:
            inds = results.get('frame_inds', None)
            where = ''
            if inds is not None:
                inds = [int(i) for i in np.asarray(inds).reshape(-1)]
                shown = ', '.join(map(str, inds[:8])) + (', ...' if len(inds) > 8 else '')
                where = f' (frames {shown})'
            raise VideoReadError(results.get('filename', '<unknown file>'),
                                 f'decoding failed{where}: {describe_error(err)}') from err
