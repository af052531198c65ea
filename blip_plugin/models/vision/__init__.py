"""Image encoders."""

from .pos_embed import resize_pos_embed
from .vit import VIT_ARCHS, BlipViT

__all__ = ['BlipViT', 'VIT_ARCHS', 'resize_pos_embed']
