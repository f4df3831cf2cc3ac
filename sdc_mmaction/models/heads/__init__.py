from .block_gru_head import BlockGRUHead
from .concept_align_head import ConceptAlignHead
from .dclr_projection_head import DCLRProjectionHead
from .local_concept_contrast_head import LocalConceptContrastHead
from .view_contrast_head import ViewContrastHead

__all__ = ['BlockGRUHead', 'ConceptAlignHead', 'DCLRProjectionHead',
           'LocalConceptContrastHead', 'ViewContrastHead']
