"""Metrics: COCO caption scores (pycocoevalcap), retrieval recall, VQA and NLVR2 accuracy,
visual grounding accuracy, VisDial ranking (R@k, MRR, mean rank, NDCG)."""

from .caption import COCOCaptionMetric, load_coco_caption_gt, normalize_image_id
from .coco_caption_scorer import JavaNotFoundError, require_java, spice_models_available
from .grounding import VisualGroundingAccuracy
from .nlvr import NLVRAccuracy
from .retrieval import (
    BlipRetrievalRecall,
    BlipRetrievalTestLoop,
    BlipRetrievalValLoop,
    recall_at,
    retrieval_ranks,
)
from .video_retrieval import BlipVideoRetrievalRecall, median_rank
from .visdial import VisDialMetric, ndcg, scores_to_ranks
from .vqa import VQAAccuracy, normalize_answer, vqa_accuracy

__all__ = [
    'COCOCaptionMetric',
    'load_coco_caption_gt',
    'normalize_image_id',
    'JavaNotFoundError',
    'require_java',
    'spice_models_available',
    'BlipRetrievalRecall',
    'BlipRetrievalValLoop',
    'BlipRetrievalTestLoop',
    'recall_at',
    'retrieval_ranks',
    'VQAAccuracy',
    'normalize_answer',
    'vqa_accuracy',
    'NLVRAccuracy',
    'VisualGroundingAccuracy',
    'BlipVideoRetrievalRecall',
    'median_rank',
    'VisDialMetric',
    'ndcg',
    'scores_to_ranks',
]
