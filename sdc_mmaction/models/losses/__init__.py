"""One pure function per equation of the paper (see each module for shapes)."""
from .concept_alignment import (concept_alignment_loss, concept_predictions,  # Eq. 4
                                swapped_prediction_loss)
from .concept_alignment import label_target_loss  # a diagnostic, not in the paper
from .concept_attention import concept_cross_attention  # Eq. 7
from .code_regression import code_regression_loss  # not in the paper
from .concept_bottleneck import diversity_loss, fidelity_loss  # Eq. 5, 6
from .concept_codes import concept_codes  # Eq. 3
from .distributed import all_gather_with_grad, get_dist_info
from .local_contrast import (concept_margin_loss, local_concept_loss,  # Eq. 9, 10
                             top_k_mask, valid_concept_mask)  # Eq. 8
from .sinkhorn import sinkhorn_knopp  # targets of Eq. 4
from .view_contrast import info_nce_loss  # the authors' code's extra terms

__all__ = [
    'concept_codes', 'sinkhorn_knopp', 'swapped_prediction_loss', 'concept_predictions',
    'concept_alignment_loss', 'label_target_loss', 'code_regression_loss', 'diversity_loss',
    'fidelity_loss',
    'concept_cross_attention', 'top_k_mask', 'valid_concept_mask', 'concept_margin_loss',
    'local_concept_loss',
    'all_gather_with_grad', 'get_dist_info', 'info_nce_loss'
]
from .dense_predictive import dense_predictive_loss  # CoCon / DPC: L_cpc
from .view_agreement import (cosine_similarity_matrix,  # CoCon: L_sync, L_sim
                             cross_view_similarity_loss, view_sync_loss)

__all__ += ['dense_predictive_loss', 'cosine_similarity_matrix', 'view_sync_loss',
            'cross_view_similarity_loss']
