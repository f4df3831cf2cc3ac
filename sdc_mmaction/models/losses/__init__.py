"""One pure function per equation of the paper (see each module for shapes)."""
from .concept_alignment import (check_alignment_codes, concept_alignment_loss,  # Eq. 4
                                concept_predictions, swapped_prediction_loss)
from .concept_attention import concept_cross_attention  # Eq. 7
from .concept_bottleneck import diversity_loss, fidelity_loss  # Eq. 5, 6
from .concept_codes import concept_codes  # Eq. 3
from .distributed import all_gather_with_grad, get_dist_info
from .local_contrast import (concept_margin_loss, local_concept_loss,  # Eq. 9, 10
                             top_k_mask, valid_concept_mask)  # Eq. 8
from .sinkhorn import sinkhorn_knopp  # targets of Eq. 4
from .view_contrast import info_nce_loss  # the authors' code's extra terms

__all__ = [
    'concept_codes', 'sinkhorn_knopp', 'swapped_prediction_loss', 'concept_predictions',
    'concept_alignment_loss', 'check_alignment_codes', 'diversity_loss', 'fidelity_loss',
    'concept_cross_attention', 'top_k_mask', 'valid_concept_mask', 'concept_margin_loss',
    'local_concept_loss', 'all_gather_with_grad', 'get_dist_info', 'info_nce_loss'
]
from .dual_contrast import (activation_alignment_loss, activation_map,  # DCLR
                            activation_weighted_pool, multi_positive_info_nce,
                            normalised_activation, queue_affinity, top_k_queue_positives)
