from .checked_decord import CheckedDecordDecode, CheckedDecordInit
from .clip_wise import ClipGaussianBlur, ClipWiseTransforms
from .formatting import PackConceptInputs
from .frame_difference import FrameDifference
from .multi_view import MotionCrop, MultiViewPipeline, PackMultiViewInputs, SplitBlocks
from .static_frame import StaticFrame

__all__ = ['CheckedDecordDecode', 'CheckedDecordInit', 'ClipGaussianBlur', 'ClipWiseTransforms',
           'FrameDifference', 'MotionCrop', 'MultiViewPipeline', 'PackConceptInputs',
           'PackMultiViewInputs', 'SplitBlocks', 'StaticFrame']
