"""Task models: captioning, pre-training, retrieval, VQA."""

from .caption import BlipCaption
from .pretrain import BlipPretrain
from .retrieval import BlipRetrieval
from .vqa import BlipVQA, load_answer_list

__all__ = ['BlipCaption', 'BlipPretrain', 'BlipRetrieval', 'BlipVQA', 'load_answer_list']
