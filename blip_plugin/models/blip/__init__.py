"""Task models: captioning, pre-training, retrieval, VQA, NLVR2, grounding, visual dialog."""

from .caption import BlipCaption
from .grounding import BlipGrounding
from .nlvr import BlipNLVR
from .pretrain import BlipPretrain
from .retrieval import BlipRetrieval
from .video import BlipVideoDataPreprocessor, BlipVideoRetrieval, BlipVideoVQA
from .visdial import BlipVisDial
from .vqa import BlipVQA, load_answer_list

__all__ = [
    'BlipCaption',
    'BlipGrounding',
    'BlipNLVR',
    'BlipPretrain',
    'BlipRetrieval',
    'BlipVisDial',
    'BlipVQA',
    'BlipVideoDataPreprocessor',
    'BlipVideoRetrieval',
    'BlipVideoVQA',
    'load_answer_list',
]
