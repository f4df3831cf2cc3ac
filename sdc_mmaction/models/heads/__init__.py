from .concept_align_head import ConceptAlignHead
from .local_concept_contrast_head import LocalConceptContrastHead
from .view_contrast_head import ViewContrastHead

__all__ = ['ConceptAlignHead', 'LocalConceptContrastHead', 'ViewContrastHead']
