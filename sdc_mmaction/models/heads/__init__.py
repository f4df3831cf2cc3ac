from .concept_align_head import ConceptAlignHead
from .local_concept_contrast_head import LocalConceptContrastHead

__all__ = ['ConceptAlignHead', 'LocalConceptContrastHead']
