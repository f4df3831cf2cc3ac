from .concept_align_head import ConceptAlignHead
from .label_target_align_head import LabelTargetAlignHead
from .local_concept_contrast_head import LocalConceptContrastHead
from .view_contrast_head import ViewContrastHead

__all__ = [
    'ConceptAlignHead', 'LabelTargetAlignHead', 'LocalConceptContrastHead', 'ViewContrastHead'
]
from .dclr_projection_head import DCLRProjectionHead  # noqa: E402,F401
