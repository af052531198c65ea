"""Task models: captioning, pre-training, retrieval, VQA, NLVR2, grounding."""

from .caption import BlipCaption
from .grounding import BlipGrounding
from .nlvr import BlipNLVR
from .pretrain import BlipPretrain
from .retrieval import BlipRetrieval
from .vqa import BlipVQA, load_answer_list

__all__ = [
    'BlipCaption',
    'BlipGrounding',
    'BlipNLVR',
    'BlipPretrain',
    'BlipRetrieval',
    'BlipVQA',
    'load_answer_list',
]
