"""Task models."""
from .caption import BlipCaption

__all__ = ['BlipCaption']
