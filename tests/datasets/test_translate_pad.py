import numpy as np
import pytest

from blip_plugin.datasets.transforms import BlipRandomTranslatePad


def test_box_moves_with_the_image() -> None:
    img = np.full((10, 20, 3), 7, np.uint8)
    box = np.array([[2.0, 3.0, 12.0, 8.0]], np.float32)
    for seed in range(5):
        np.random.seed(seed)
        out = BlipRandomTranslatePad(size=32, aug_translate=True)(dict(img=img, gt_bboxes=box))
        ys, xs = np.nonzero(out['img'][..., 0])
        top, left = ys.min(), xs.min()
        assert out['img'].shape == (32, 32, 3) and out['img_shape'] == (32, 32)
        np.testing.assert_allclose(out['gt_bboxes'], box + [left, top, left, top])
    centred = BlipRandomTranslatePad(size=32)(dict(img=img, gt_bboxes=box))
    np.testing.assert_allclose(centred['gt_bboxes'], box + [6, 11, 6, 11])


def test_image_that_fills_the_canvas_and_too_big() -> None:
    img = np.ones((32, 32, 3), np.uint8)
    out = BlipRandomTranslatePad(size=32, aug_translate=True)(dict(img=img))  # mmpretrain raises
    assert (out['img'] == 1).all()
    with pytest.raises(ValueError, match='does not fit a 16 px canvas'):
        BlipRandomTranslatePad(size=16)(dict(img=img))
