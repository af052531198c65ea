"""The multimodal mixture of encoder-decoder (MED)."""

from .config import MEDConfig
from .decoder import LMHead, MEDDecoder
from .tokenizer import load_tokenizer
from .transformer import MEDCache, MEDTransformer

__all__ = ['MEDConfig', 'MEDTransformer', 'MEDCache', 'MEDDecoder', 'LMHead', 'load_tokenizer']
