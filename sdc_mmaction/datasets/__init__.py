from . import transforms  # noqa: F401
from .pipelines import concept_pipeline, stock_pipeline
from .safe_video_dataset import SafeVideoDataset
from .video_integrity import VideoReadError, check_video_file

__all__ = ['SafeVideoDataset', 'VideoReadError', 'check_video_file', 'concept_pipeline',
           'stock_pipeline']
