"""One pure function per equation: SDC's (Eq. 3-10), then the baselines' (DCLR, CoCon)."""
from .concept_alignment import (check_alignment_codes, concept_alignment_loss,  # Eq. 4
                                concept_predictions, swapped_prediction_loss)
from .concept_attention import concept_cross_attention  # Eq. 7
from .concept_bottleneck import diversity_loss, fidelity_loss  # Eq. 5, 6
from .concept_codes import concept_codes  # Eq. 3
from .dense_predictive import dense_predictive_loss  # CoCon / DPC: L_cpc
from .distributed import all_gather_with_grad, get_dist_info
from .dual_contrast import (activation_alignment_loss, activation_map,  # DCLR
                            activation_weighted_pool, multi_positive_info_nce,
                            normalised_activation, queue_affinity, top_k_queue_positives)
from .local_contrast import (concept_margin_loss, local_concept_loss,  # Eq. 9, 10
                             top_k_mask, valid_concept_mask)  # Eq. 8
from .sinkhorn import sinkhorn_knopp  # targets of Eq. 4
from .view_agreement import (cosine_similarity_matrix,  # CoCon: L_sync, L_sim
                             cross_view_similarity_loss, view_sync_loss)
from .view_contrast import info_nce_loss  # the authors' code's extra terms

__all__ = [
    'concept_codes', 'sinkhorn_knopp', 'swapped_prediction_loss', 'concept_predictions',
    'concept_alignment_loss', 'check_alignment_codes', 'diversity_loss', 'fidelity_loss',
    'concept_cross_attention', 'top_k_mask', 'valid_concept_mask', 'concept_margin_loss',
    'local_concept_loss', 'all_gather_with_grad', 'get_dist_info', 'info_nce_loss',
    'activation_alignment_loss', 'activation_map', 'activation_weighted_pool',
    'multi_positive_info_nce', 'normalised_activation', 'queue_affinity',
    'top_k_queue_positives', 'dense_predictive_loss', 'cosine_similarity_matrix',
    'view_sync_loss', 'cross_view_similarity_loss'
]
