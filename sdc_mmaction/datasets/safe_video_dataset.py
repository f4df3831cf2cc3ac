"""SafeVideoDataset: a VideoDataset that names bad videos and can skip them."""
from typing import List

import torch
from mmengine.logging import print_log

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from .video_integrity import VideoReadError, describe_error

#: counter slots: slot 0 for the main process, slot 1 + worker id for DataLoader workers
_COUNTER_SLOTS = 65


def _decoder_error_types() -> tuple:
    types = [VideoReadError, OSError]
    try:
        from decord._ffi.base import DECORDError
        types.append(DECORDError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def _raised_inside_decord(err: BaseException) -> bool:
    """Whether ``err`` comes from decord itself (it raises plain ``RuntimeError`` too)."""
    tb = err.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    return 'decord' in last.tb_frame.f_code.co_filename


@DATASETS.register_module()
class SafeVideoDataset(VideoDataset):
    """MMAction2's ``VideoDataset`` with named errors and an option to skip bad videos.

    A sample whose video cannot be read (missing, empty, truncated, undecodable) raises
    :class:`~sdc_mmaction.datasets.video_integrity.VideoReadError` naming the file, also
    when the pipeline uses MMAction2's own ``DecordInit`` / ``DecordDecode`` (their errors
    do not say which file failed). Pair it with ``CheckedDecordInit`` /
    ``CheckedDecordDecode`` to also catch truncated files that decord would crash on or
    read silently short.

    With ``skip_bad_videos=True`` (training only) such a sample is skipped instead: the
    file is logged as a warning, counted, and ``BaseDataset.__getitem__`` draws another
    random index (up to ``max_refetch`` times, as for any pipeline returning None). The
    count is :attr:`num_skipped`: it lives in shared memory, so it also counts what the
    DataLoader's worker processes skipped, and a hook can log it
    (``runner.train_dataloader.dataset.num_skipped``). Test-mode datasets never skip:
    dropping a sample would silently change what is evaluated.

    Only errors raised by the video reader count as bad videos (``VideoReadError``,
    ``OSError``, decord's errors); any other exception is a bug in the pipeline and
    propagates unchanged.

    Args:
        skip_bad_videos (bool): skip unreadable videos in training. Defaults to False.
        *args, **kwargs: as for ``VideoDataset``.
    """

    def __init__(self, *args, skip_bad_videos: bool = False, **kwargs) -> None:
        self.skip_bad_videos = skip_bad_videos
        # shared memory: DataLoader workers (forked or spawned) write into the same slots
        self._skip_counter = torch.zeros(_COUNTER_SLOTS, dtype=torch.int64).share_memory_()
        self._skipped_files: List[str] = []
        super().__init__(*args, **kwargs)

    @property
    def num_skipped(self) -> int:
        """How many samples were skipped so far, over all processes."""
        return int(self._skip_counter.sum())

    @property
    def skipped_files(self) -> List[str]:
        """Files skipped *in this process* (workers keep their own lists; see the log)."""
        return list(self._skipped_files)

    def _is_decode_error(self, err: BaseException) -> bool:
        if isinstance(err, _decoder_error_types()):
            return True
        return isinstance(err, RuntimeError) and _raised_inside_decord(err)

    def _record_skip(self, error: VideoReadError) -> None:
        worker = torch.utils.data.get_worker_info()
        slot = 0 if worker is None else 1 + worker.id % (_COUNTER_SLOTS - 1)
        self._skip_counter[slot] += 1
        self._skipped_files.append(error.filename)
        print_log(f'skipping a bad video ({self.num_skipped} skipped so far): {error}',
                  logger='current', level=30)  # logging.WARNING

    def prepare_data(self, idx: int):
        try:
            return super().prepare_data(idx)
        except Exception as err:
            if not self._is_decode_error(err):
                raise
            if isinstance(err, VideoReadError):
                error = err
            else:
                filename = self.get_data_info(idx).get('filename', f'<sample {idx}>')
                error = VideoReadError(filename, describe_error(err))
            if not self.skip_bad_videos or self.test_mode:
                if error is err:
                    raise
                raise error from err
            self._record_skip(error)
            return None  # BaseDataset.__getitem__ then tries another random index


__all__ = ['SafeVideoDataset']
