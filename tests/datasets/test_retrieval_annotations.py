"""KarpathyRetrieval: malformed annotation files fail at build time naming file, entry, key."""

import json
from pathlib import Path

import pytest

from blip_plugin.datasets import KarpathyRetrieval


def build(tmp_path: Path, anns: list, test_mode: bool) -> KarpathyRetrieval:
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(anns))
    return KarpathyRetrieval(ann_file=str(path), test_mode=test_mode, lazy_init=False)


GOOD_TRAIN = {'image': 'a.jpg', 'caption': 'a red circle', 'image_id': 'a'}
GOOD_EVAL = {'image': 'a.jpg', 'caption': ['a red circle', 'a circle']}


@pytest.mark.parametrize(
    'entry, test_mode, match',
    [
        ({'img': 'a.jpg', 'caption': 'x'}, False, r"entry 1: missing key 'image' \(has"),
        ({'image': 'b.jpg'}, False, 'training annotation 1 needs one caption'),
        ({'image': 'b.jpg', 'caption': ' ... '}, False, "entry 1: caption ' ... ' is empty"),
        ({'image': 'b.jpg', 'caption': ['ok', '']}, True, "entry 1: key 'caption' must be a non"),
        ({'image': 'b.jpg', 'caption': []}, True, "entry 1: key 'caption' must be a non-empty"),
        ({'image': 'b.jpg', 'captions': ['x']}, True, "entry 1: missing key 'caption'"),
        ({'image': 3, 'caption': 'x'}, True, "entry 1: key 'image' has type int"),
        ({'image': 'b.jpg', 'caption': ['...']}, True, "entry 1: caption '...' is empty"),
    ],
)
def test_malformed_entry_is_named(tmp_path: Path, entry: dict, test_mode: bool, match: str) -> None:
    good = GOOD_EVAL if test_mode else GOOD_TRAIN
    with pytest.raises(ValueError, match=match) as err:
        build(tmp_path, [good, entry], test_mode)
    assert 'ann.json' in str(err.value)


def test_well_formed_files_still_load(tmp_path: Path) -> None:
    train = build(tmp_path, [GOOD_TRAIN, {**GOOD_TRAIN, 'caption': 'A circle!'}], False)
    assert [d['gt_caption'] for d in train] == ['a red circle', 'a circle']
    assert {d['image_idx'] for d in train} == {0}
    test = build(tmp_path, [GOOD_EVAL], True)
    assert test.texts == ['a red circle', 'a circle'] and test.img2txt == [[0, 1]]
