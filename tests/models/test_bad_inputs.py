"""Bad model configs and wrong-size image tensors: one clear sentence each (the inference API's
own cases live in tests/apis, --cfg-options typos in tests/tools/test_tools.py)."""

import pytest
import torch
from mmengine.registry import DefaultScope

from blip_plugin.registry import MODELS

TINY_VIT = dict(type='BlipViT', arch=dict(embed_dim=32, depth=1, num_heads=2), img_size=32)


def build(cfg: dict) -> torch.nn.Module:
    with DefaultScope.overwrite_default_scope('blip_plugin'):
        return MODELS.build(cfg)


def test_typo_in_a_model_config_key_is_named() -> None:
    with pytest.raises(TypeError, match=r'BlipViT.*unexpected keyword argument .img_szie.'):
        build({**TINY_VIT, 'img_szie': 32, 'patch_size': 4})


def test_unknown_model_type_is_named() -> None:
    with pytest.raises(KeyError, match='BlipCaptoin is not in the'):
        build(dict(type='BlipCaptoin'))


@pytest.mark.parametrize(
    'shape, message',
    [
        ((2, 32, 32, 3), r'images must be \(B, 3, H, W\); got \(2, 32, 32, 3\)'),
        ((3, 32, 32), r'images must be \(B, 3, H, W\); got \(3, 32, 32\)'),
        ((1, 3, 30, 30), 'image size 30x30 is not a multiple of the patch size 4'),
        ((1, 3, 32, 48), 'of a 32px model only resizes to square inputs; got 32x48'),
    ],
)
def test_wrong_size_image_tensor_is_one_sentence(shape: tuple, message: str) -> None:
    vit = build({**TINY_VIT, 'patch_size': 4}).eval()
    with pytest.raises(ValueError, match=message):
        vit(torch.zeros(shape))
    assert vit(torch.zeros(1, 3, 48, 48)).shape == (1, 1 + 12 * 12, 32)  # square: resized
