"""The memorisation panel's core: membership scores, AUC and TPR at 1% FPR with intervals,
canaries, the controls, and the k-extractable share.

    >>> from emergence.memorisation import auc, canary_sentence, tpr_at_fpr
    >>> auc([0.9, 0.8, 0.7, 0.4], [0.5, 0.3, 0.2, 0.1]).short()
    '0.94 [0.54, 0.99]'

Every membership score is oriented so that higher means "more likely a member".
Modules: ``scores`` (per-record scores from one forward pass; torch inside functions),
``auc`` (Mann-Whitney AUC, its score interval), ``roc`` (ROC points, TPR at a target FPR),
``canaries`` (the canary sentence of a record key), ``controls`` (canary detection, the
base-only negative control), ``extraction`` (k-extractable share).
"""
from __future__ import annotations

from emergence.memorisation.auc import (MIN_PER_SIDE, auc, auc_bounds, binormal_auc_variance, mann_whitney_auc,
                                        placements)
from emergence.memorisation.canaries import CANARY_WORDS, canary_sentence
from emergence.memorisation.controls import (CANARY_MIN_AUC, ControlResult, canary_detection, covers_chance,
                                             negative_control)
from emergence.memorisation.extraction import ExtractionShare, extraction_share
from emergence.memorisation.roc import TprAtFpr, roc_curve, threshold_rank, tpr_at_fpr, tpr_at_rank
from emergence.memorisation.scores import (MEMBERSHIP_SCORES, MembershipScores, membership_scores,
                                           min_k_count, pad_batch, reference_scores, zlib_bytes)

__all__ = ["CANARY_MIN_AUC", "CANARY_WORDS", "ControlResult", "ExtractionShare", "MEMBERSHIP_SCORES",
           "MIN_PER_SIDE", "MembershipScores", "TprAtFpr", "auc", "auc_bounds", "binormal_auc_variance", "canary_detection",
           "canary_sentence", "covers_chance", "extraction_share", "mann_whitney_auc", "membership_scores",
           "min_k_count", "negative_control", "pad_batch", "placements", "reference_scores", "roc_curve",
           "threshold_rank", "tpr_at_fpr", "tpr_at_rank", "zlib_bytes"]
