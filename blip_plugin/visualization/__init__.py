"""Drawing predictions (boxes, captions, answers) on images."""

from .draw import draw_box_and_text

__all__ = ['draw_box_and_text']
