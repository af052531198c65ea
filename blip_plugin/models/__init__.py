"""Models: the ViT, the MED, task models, generation and weight conversion."""

from .blip import (
    BlipCaption,
    BlipGrounding,
    BlipNLVR,
    BlipPretrain,
    BlipRetrieval,
    BlipVisDial,
    BlipVQA,
)
from .convert import convert_state_dict, detect_format
from .generation import generate
from .med import MEDConfig, MEDDecoder, MEDTransformer, load_tokenizer
from .vision import BlipViT
from .weights import load_blip_weights, read_state_dict

__all__ = [
    'BlipViT',
    'MEDConfig',
    'MEDTransformer',
    'MEDDecoder',
    'load_tokenizer',
    'BlipCaption',
    'BlipPretrain',
    'BlipRetrieval',
    'BlipVQA',
    'BlipGrounding',
    'BlipNLVR',
    'BlipVisDial',
    'generate',
    'convert_state_dict',
    'detect_format',
    'load_blip_weights',
    'read_state_dict',
]
