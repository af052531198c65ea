"""mmpretrain's ``ColorJitter`` with a hue shift that works on numpy 2.

mmcv 2.x ``adjust_hue`` adds ``np.uint8(hue_factor * 255)`` to the hue channel; numpy 2
raises ``OverflowError`` for the negative factors that ``hue=0.1`` draws half of the time
(numpy 1 wrapped them silently). Here the shift wraps modulo 256 explicitly, which is what
mmcv meant ("uint8 addition takes care of rotation across boundaries").
"""

import cv2
import mmcv
import numpy as np
from mmpretrain.datasets.transforms import ColorJitter

from blip_plugin.registry import TRANSFORMS

__all__ = ['BlipColorJitter', 'adjust_hue']


def adjust_hue(img: np.ndarray, hue_factor: float) -> np.ndarray:
    """Rotate the hue of a BGR image by ``hue_factor`` of a turn (-0.5..0.5), as mmcv's cv2
    ``adjust_hue`` (HSV_FULL, hue in 0..255)."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor must be in [-0.5, 0.5], got {hue_factor}')
    dtype = img.dtype
    h, s, v = cv2.split(cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL))
    shift = int(np.uint8(int(hue_factor * 255) % 256))
    h = ((h.astype(np.int16) + shift) % 256).astype(np.uint8)
    return cv2.cvtColor(cv2.merge([h, s, v]), cv2.COLOR_HSV2BGR_FULL).astype(dtype)


@TRANSFORMS.register_module()
class BlipColorJitter(ColorJitter):
    """mmpretrain's ``ColorJitter`` (same arguments, same random draws and order), with
    :func:`adjust_hue` for the hue step."""

    def transform(self, results: dict) -> dict:
        img = results['img']
        order, brightness, contrast, saturation, hue = self._rand_params()
        for index in order:
            if index == 0 and brightness is not None:
                img = mmcv.adjust_brightness(img, brightness, backend=self.backend)
            elif index == 1 and contrast is not None:
                img = mmcv.adjust_contrast(img, contrast, backend=self.backend)
            elif index == 2 and saturation is not None:
                img = mmcv.adjust_color(img, alpha=saturation, backend=self.backend)
            elif index == 3 and hue is not None:
                img = adjust_hue(img, hue)
        results['img'] = img
        return results
