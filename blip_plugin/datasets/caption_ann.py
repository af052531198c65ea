"""Reading and checking caption annotation files.

Every problem is a ``ValueError`` that names the file, the entry index and the key, raised
while the dataset builds (``load_data_list``), never later inside a data loader worker.
"""

import os.path as osp
import re
from pathlib import Path
from typing import Any, List, Union

import mmengine

__all__ = ['load_annotation_file', 'require_caption', 'require_field', 'image_id_from_path']


def load_annotation_file(ann_file: str, expect: Union[type, tuple]) -> Any:
    """Load a json annotation file and check its top-level type."""
    if not ann_file or not osp.isfile(ann_file):
        raise ValueError(f'annotation file {ann_file!r} does not exist')
    try:
        anns = mmengine.load(ann_file, file_format='json')
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise ValueError(f'annotation file {ann_file!r} is not valid json: {e}') from e
    if not isinstance(anns, expect):
        names = (
            expect.__name__ if isinstance(expect, type) else ' or '.join(t.__name__ for t in expect)
        )
        raise ValueError(
            f'annotation file {ann_file!r}: expected a json {names} at the top level, '
            f'got {type(anns).__name__}'
        )
    return anns


def require_field(
    entry: Any, index: int, key: str, ann_file: str, kind: Union[type, tuple], section: str = ''
) -> Any:
    """``entry[key]``, checked to exist, to have type ``kind`` and to be non-empty if a str.

    ``section`` names the list the entry is in when the file holds several (``"images"``).
    """
    where = f'annotation file {ann_file!r}, entry {f"{section}[{index}]" if section else index}'
    if not isinstance(entry, dict):
        raise ValueError(f'{where}: expected an object, got {type(entry).__name__}')
    if key not in entry:
        raise ValueError(f'{where}: missing key {key!r} (has {sorted(entry)})')
    value = entry[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f'{where}: key {key!r} has type {type(value).__name__}')
    if isinstance(value, str) and not value.strip():
        raise ValueError(f'{where}: key {key!r} is empty')
    return value


def require_caption(
    entry: Any, index: int, ann_file: str, key: str = 'caption'
) -> Union[str, List[str]]:
    """A caption (str) or a non-empty list of captions, each non-empty."""
    caption = require_field(entry, index, key, ann_file, (str, list))
    if isinstance(caption, list):
        if not caption or not all(isinstance(c, str) and c.strip() for c in caption):
            raise ValueError(
                f'annotation file {ann_file!r}, entry {index}: key {key!r} must be a non-empty '
                f'list of non-empty strings'
            )
    return caption


def image_id_from_path(image: str, index: int, ann_file: str) -> int:
    """The trailing number of the file stem, as mmpretrain's ``COCOCaption`` reads it:
    ``val2014/COCO_val2014_000000184613.jpg`` -> 184613, ``1000092795.jpg`` -> 1000092795.
    """
    match = re.search(r'(\d+)$', Path(image).stem)
    if match is None:
        raise ValueError(
            f"annotation file {ann_file!r}, entry {index}: key 'image' = {image!r} has no "
            f'trailing number in its file name to use as image id'
        )
    return int(match.group(1))
