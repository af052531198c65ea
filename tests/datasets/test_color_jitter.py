"""BlipColorJitter: mmpretrain's ColorJitter whose hue shift works on numpy 2."""

import cv2
import mmcv
import numpy as np
import pytest

from blip_plugin.datasets.transforms.color_jitter import BlipColorJitter, adjust_hue


def test_negative_hue_wraps_like_a_positive_one() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    # -0.1 of a turn: the hue channel (0..255) moves by int(-25.5) = -25, i.e. +231 mod 256
    # (mmcv's own adjust_hue raises OverflowError here on numpy 2)
    h, s, v = cv2.split(cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL))
    want = cv2.cvtColor(cv2.merge([(h + np.uint8(231)), s, v]), cv2.COLOR_HSV2BGR_FULL)
    np.testing.assert_array_equal(adjust_hue(img, -0.1), want)
    np.testing.assert_array_equal(adjust_hue(img, 0.2), mmcv.adjust_hue(img, 0.2, backend='cv2'))
    assert not np.array_equal(adjust_hue(img, -0.1), img)
    with pytest.raises(ValueError, match='hue_factor'):
        adjust_hue(img, 0.7)


def test_transform_draws_negative_hues_without_error() -> None:
    t = BlipColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, backend='cv2')
    img = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    for _ in range(30):  # about half of the draws are negative
        out = t.transform(dict(img=img.copy()))['img']
        assert out.shape == img.shape and out.dtype == np.uint8
