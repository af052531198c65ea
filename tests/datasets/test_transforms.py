"""BlipCleanCaption against hand-written outputs of the official ``pre_caption``."""

import pytest
from mmengine.registry import DefaultScope

from blip_plugin.datasets.transforms import BlipCleanCaption, pre_caption
from blip_plugin.registry import TRANSFORMS


@pytest.mark.parametrize(
    'text, max_words, expected',
    [
        ('A man, riding a horse!!', 50, 'a man, riding a horse'),
        ('Two  dogs (playing) on: the "grass".', 50, 'two dogs playing on the grass'),
        ("it's a #1 ~dog~; yes*", 50, "it's a 1 dog yes"),
        ('a cat.\n', 50, 'a cat'),
        ('  Leading and trailing  ', 50, 'leading and trailing'),
        ('One two three four five', 3, 'one two three'),
        ('what? a well-known shop', 50, 'what? a well-known shop'),
    ],
)
def test_pre_caption(text: str, max_words: int, expected: str) -> None:
    assert pre_caption(text, max_words) == expected


def test_transform_on_str_and_list_keys() -> None:
    clean = BlipCleanCaption(keys=['gt_caption', 'text'], max_words=2)
    out = clean({'gt_caption': ['A Red circle.', 'Blue (square)'], 'text': 'Hi there you'})
    assert out == {'gt_caption': ['a red', 'blue square'], 'text': 'hi there'}


def test_transform_errors() -> None:
    with pytest.raises(KeyError, match='gt_caption'):
        BlipCleanCaption()({'text': 'x'})
    with pytest.raises(TypeError, match='gt_caption'):
        BlipCleanCaption()({'gt_caption': 3})
    with pytest.raises(ValueError, match='max_words'):
        BlipCleanCaption(max_words=0)


def test_registered_in_blip_scope() -> None:
    with DefaultScope.overwrite_default_scope('blip_plugin'):
        clean = TRANSFORMS.build(dict(type='BlipCleanCaption', max_words=30))
    assert isinstance(clean, BlipCleanCaption) and clean.max_words == 30
