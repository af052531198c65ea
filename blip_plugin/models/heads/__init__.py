"""Loss and prediction pieces of the BLIP objectives: ITC, ITM, VQA answers, grounding boxes."""

from .grounding_head import BlipGroundingHead
from .itc import (
    all_gather_with_grad,
    all_reduce_sum,
    concat_all_gather,
    enqueue,
    get_dist_info,
    itc_loss,
    one_hot_targets,
    soft_targets,
)
from .itm import itm_logits, itm_loss, negative_weights, sample_negatives
from .vqa_head import rank_answers, weighted_answer_loss

__all__ = [
    'concat_all_gather',
    'all_gather_with_grad',
    'all_reduce_sum',
    'enqueue',
    'itc_loss',
    'soft_targets',
    'one_hot_targets',
    'get_dist_info',
    'negative_weights',
    'sample_negatives',
    'itm_logits',
    'itm_loss',
    'rank_answers',
    'weighted_answer_loss',
    'BlipGroundingHead',
]
