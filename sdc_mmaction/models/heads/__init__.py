from .concept_align_head import ConceptAlignHead
from .dclr_projection_head import DCLRProjectionHead
from .local_concept_contrast_head import LocalConceptContrastHead
from .view_contrast_head import ViewContrastHead

__all__ = ['ConceptAlignHead', 'DCLRProjectionHead', 'LocalConceptContrastHead',
           'ViewContrastHead']
