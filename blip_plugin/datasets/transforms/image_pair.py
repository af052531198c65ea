"""Transforms for samples with two images (NLVR2): the official training-time swap and the
stacking that lets a pair travel as one image (see :mod:`blip_plugin.models.blip.nlvr`)."""

import random
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from blip_plugin.registry import TRANSFORMS

__all__ = ['NLVRSwapPair', 'StackImagePair']

_SIDES = {'left': 'right', 'right': 'left'}


@TRANSFORMS.register_module()
class NLVRSwapPair(BaseTransform):
    """Swap the two images with probability ``prob``, and 'left' / 'right' in the statement
    when it names them (official data/nlvr_dataset.py). Runs before the images are loaded.

    Args:
        prob: probability of swapping. Defaults to 0.5.
        text_key: key of the statement. Defaults to 'text'.
    """

    def __init__(self, prob: float = 0.5, text_key: str = 'text') -> None:
        self.prob, self.text_key = prob, text_key

    def transform(self, results: dict) -> dict:
        paths = results['img_path']
        if not isinstance(paths, (list, tuple)) or len(paths) != 2:
            raise ValueError(f'NLVRSwapPair needs img_path as two paths, got {paths!r}')
        if random.random() < self.prob:
            results['img_path'] = [paths[1], paths[0]]
            words = results[self.text_key].split(' ')
            results[self.text_key] = ' '.join(_SIDES.get(w, w) for w in words)
        return results


@TRANSFORMS.register_module()
class StackImagePair(BaseTransform):
    """Stack the two images of ``img`` (a list of two (H, W, C) arrays of one size, e.g. from
    mmpretrain's ``ApplyToList``) into one (2H, W, C) array: image 0 on top."""

    def transform(self, results: dict) -> Optional[dict]:
        imgs = results['img']
        if not isinstance(imgs, (list, tuple)) or len(imgs) != 2:
            raise ValueError(
                f'StackImagePair needs img as a list of two images ({_where(results)})'
            )
        if imgs[0].shape != imgs[1].shape:
            raise ValueError(
                f'the two images of a pair must have one size after resizing, got '
                f'{imgs[0].shape} and {imgs[1].shape} ({_where(results)}); resize both to a '
                'fixed scale before StackImagePair'
            )
        results['img'] = np.concatenate(imgs, axis=0)
        results['img_shape'] = results['img'].shape[:2]
        return results


def _where(results: dict) -> str:
    return f'img_path {results.get("img_path")!r}'
