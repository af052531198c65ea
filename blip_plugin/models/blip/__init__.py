"""Task models: captioning, pre-training, retrieval, VQA, grounding."""

from .caption import BlipCaption
from .grounding import BlipGrounding
from .pretrain import BlipPretrain
from .retrieval import BlipRetrieval
from .vqa import BlipVQA, load_answer_list

__all__ = [
    'BlipCaption',
    'BlipGrounding',
    'BlipPretrain',
    'BlipRetrieval',
    'BlipVQA',
    'load_answer_list',
]
