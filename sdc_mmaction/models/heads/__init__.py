from .concept_align_head import ConceptAlignHead
from .label_target_align_head import LabelTargetAlignHead
from .local_concept_contrast_head import LocalConceptContrastHead
from .view_contrast_head import ViewContrastHead

__all__ = [
    'ConceptAlignHead', 'LabelTargetAlignHead', 'LocalConceptContrastHead', 'ViewContrastHead'
]
from .block_gru_head import BlockGRUHead  # noqa: E402

__all__ += ['BlockGRUHead']
