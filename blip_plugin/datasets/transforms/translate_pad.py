"""Pad an image onto a square canvas at a random offset, moving its boxes along
(mmpretrain datasets/transforms/processing.py ``RandomTranslatePad``, used by its RefCOCO recipe).

mmpretrain draws the offset with ``np.random.randint(0, size - side)``, which raises when the
image already fills the canvas (its recipe resizes to 384 one time in seven) and never puts a
smaller image flush right or bottom; here the offset is uniform over ``0 .. size - side``.
"""

import numpy as np
from mmcv.transforms import BaseTransform

from ...registry import TRANSFORMS

__all__ = ['BlipRandomTranslatePad']


@TRANSFORMS.register_module()
class BlipRandomTranslatePad(BaseTransform):
    """Place the image on a black ``size`` x ``size`` canvas; shift ``gt_bboxes`` with it.

    **Required keys:** ``img``. **Modified keys:** ``img``, ``img_shape``, ``gt_bboxes``
    (when present, (N, 4) x1, y1, x2, y2 pixels).

    Args:
        size: canvas side in pixels. Defaults to 640.
        aug_translate: a random offset; False centres the image. Defaults to False.
    """

    def __init__(self, size: int = 640, aug_translate: bool = False) -> None:
        self.size = size
        self.aug_translate = aug_translate

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        dh, dw = self.size - h, self.size - w
        if dh < 0 or dw < 0:
            raise ValueError(
                f'BlipRandomTranslatePad: a {w}x{h} image does not fit a {self.size} px canvas '
                '(resize it first)'
            )
        if self.aug_translate:
            top, left = int(np.random.randint(0, dh + 1)), int(np.random.randint(0, dw + 1))
        else:  # mmpretrain's centring
            top, left = round(dh / 2.0 - 0.1), round(dw / 2.0 - 0.1)
        canvas = np.zeros((self.size, self.size) + img.shape[2:], dtype=img.dtype)
        canvas[top : top + h, left : left + w] = img
        results['img'] = canvas
        results['img_shape'] = (self.size, self.size)
        if results.get('gt_bboxes') is not None:
            boxes = np.asarray(results['gt_bboxes'], dtype=np.float32).copy()  # (N, 4)
            boxes[:, 0::2] += left
            boxes[:, 1::2] += top
            results['gt_bboxes'] = boxes
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, aug_translate={self.aug_translate})'
