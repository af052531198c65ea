"""Data transforms of the ``blip_plugin`` scope.

Image loading, resizing, cropping, flipping, RandAugment and packing come from mmcv and
mmpretrain (``LoadImageFromFile``, ``Resize``, ``RandomFlip``, ``RandomResizedCrop``,
``RandAugment``, ``PackInputs``), reachable from this scope through the parent registry.
"""

from .clean_caption import BlipCleanCaption, pre_caption
from .color_jitter import BlipColorJitter
from .image_pair import NLVRSwapPair, StackImagePair
from .load_image import BlipLoadImage, UnreadableImageError
from .load_video import BlipLoadVideo, UnreadableVideoError
from .translate_pad import BlipRandomTranslatePad

__all__ = [
    'BlipCleanCaption',
    'pre_caption',
    'NLVRSwapPair',
    'StackImagePair',
    'BlipRandomTranslatePad',
    'BlipColorJitter',
    'BlipLoadImage',
    'UnreadableImageError',
    'BlipLoadVideo',
    'UnreadableVideoError',
]
