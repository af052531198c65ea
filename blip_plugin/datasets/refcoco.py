"""RefCOCO / RefCOCO+ / RefCOCOg referring expressions (mmpretrain datasets/refcoco.py).

Reads what mmpretrain's ``RefCOCO`` reads: COCO ``instances.json`` (images, and annotations with
a pixel ``bbox`` [x, y, w, h]) and the refer toolkit's ``refs(unc).p`` (``refs(umd).p`` for
RefCOCOg), a pickled list of refs ``{'ref_id', 'ann_id', 'split', 'sentences': [{'sent'}]}``.
One sample per sentence of every ref of the requested split: ``img_path``, ``image_id``,
``ann_id``, ``ref_id``, ``text`` and ``gt_bboxes`` (1, 4) float32 pixel x1, y1, x2, y2.

The refs file is a pickle; it is read with :class:`RefsUnpickler`, which builds only builtin
containers, str, bytes, numbers and bools, so a refs file can never run code.
"""

import io
import json
import os.path as osp
import pickle
from typing import Any, Optional

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.fileio import get, get_local_path

from ..registry import DATASETS

__all__ = ['BlipRefCOCO', 'load_refs', 'RefsUnpickler', 'REFCOCO_SPLITS']

REFCOCO_SPLITS = ('train', 'val', 'test', 'testA', 'testB')
# Globals a refs pickle may name: builtin containers only (protocol 2 pickles of Python 2 name
# them under __builtin__, which pickle's fix_imports maps to builtins).
_ALLOWED_GLOBALS = {('builtins', n) for n in ('set', 'frozenset', 'list', 'dict', 'tuple')}
# Pixels a box may stick out of its image (COCO boxes are floats rounded to 2 decimals).
_BORDER_TOLERANCE = 1.0


class RefsUnpickler(pickle.Unpickler):
    """Unpickles builtin containers, str, bytes, numbers and bools; any other global (a class,
    a function) is refused with :class:`pickle.UnpicklingError` naming it."""

    def __init__(self, file: io.BufferedIOBase, name: str) -> None:
        super().__init__(file, encoding='latin1')  # Python 2 refs files hold byte strings
        self.name = name

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f'{self.name}: the refs pickle names {module}.{name}, but a refs file may only hold '
            'lists, dicts, str and numbers; refusing to load it (it could run code)'
        )


def load_refs(path: str) -> list:
    """The list of refs in a refer-toolkit pickle (``refs(unc).p``), read safely."""
    data = get(path)
    refs = RefsUnpickler(io.BytesIO(data), path).load()
    if not isinstance(refs, list):
        raise ValueError(f'{path}: expected a pickled list of refs, got {type(refs).__name__}')
    return refs


def _xyxy_box(ann: dict, img: dict, where: str) -> np.ndarray:
    """COCO ``bbox`` [x, y, w, h] -> (4,) float32 x1, y1, x2, y2, checked against the image."""
    bbox = ann.get('bbox')
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        raise ValueError(f"{where}: 'bbox' must be [x, y, w, h], got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    W, H = img.get('width'), img.get('height')
    if W is None or H is None:
        raise ValueError(f"{where}: image {img.get('id')} has no 'width'/'height'")
    tol = _BORDER_TOLERANCE
    if w <= 0 or h <= 0 or x < -tol or y < -tol or x + w > W + tol or y + h > H + tol:
        raise ValueError(
            f'{where}: box [x, y, w, h] = {bbox} is empty or outside its {W}x{H} image '
            f'{img.get("file_name")!r}'
        )
    return np.array([x, y, x + w, y + h], dtype=np.float32)


@DATASETS.register_module()
class BlipRefCOCO(BaseDataset):
    """Referring expressions with their boxes, one sample per sentence.

    Args:
        ann_file: COCO ``instances.json`` (relative to ``data_root``).
        split_file: the refs pickle, ``refs(unc).p`` (relative to ``data_root``).
        split: 'train', 'val', 'testA' or 'testB' (RefCOCO, RefCOCO+), 'test' (RefCOCOg umd).
            Defaults to 'train'.
        data_root: joined with ``ann_file``, ``split_file`` and ``data_prefix``. Defaults to ''.
        data_prefix: ``dict(img_path=...)`` (or a str, as mmpretrain's config), the image
            folder that ``file_name`` is relative to. Defaults to ``dict(img_path='')``.
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        ann_file: str,
        split_file: str,
        split: str = 'train',
        data_root: str = '',
        data_prefix: Optional[dict] = None,
        **kwargs,
    ) -> None:
        if split not in REFCOCO_SPLITS:
            raise ValueError(f'split must be one of {REFCOCO_SPLITS}, got {split!r}')
        self.split = split
        self.split_file = split_file
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path=''),
            **kwargs,
        )

    def _join_prefix(self) -> None:
        if self.split_file and not osp.isabs(self.split_file) and self.data_root:
            self.split_file = osp.join(self.data_root, self.split_file)
        super()._join_prefix()

    def _load_instances(self) -> tuple:
        with get_local_path(self.ann_file) as local, open(local, encoding='utf-8') as f:
            coco = json.load(f)
        for key in ('images', 'annotations'):
            if not isinstance(coco, dict) or not isinstance(coco.get(key), list):
                raise ValueError(f'{self.ann_file}: a COCO instances file needs a list {key!r}')
        images = {img['id']: img for img in coco['images']}
        anns = {ann['id']: ann for ann in coco['annotations']}
        return images, anns

    def load_data_list(self) -> list:
        images, anns = self._load_instances()
        refs = load_refs(self.split_file)
        root = self.data_prefix.get('img_path', '')
        data_list = []
        for i, ref in enumerate(refs):
            if not isinstance(ref, dict):
                raise ValueError(f'{self.split_file}: ref {i} is a {type(ref).__name__}')
            missing = [k for k in ('split', 'ann_id', 'sentences') if k not in ref]
            where = f'{self.split_file} ref_id {ref.get("ref_id", f"#{i}")}'
            if missing:
                raise ValueError(f'{where}: missing keys {missing}')
            if ref['split'] != self.split:
                continue
            ann = anns.get(ref['ann_id'])
            if ann is None:
                raise ValueError(f'{where}: ann_id {ref["ann_id"]} is not in {self.ann_file}')
            img = images.get(ann.get('image_id'))
            if img is None or 'file_name' not in img:
                raise ValueError(
                    f'{where}: image {ann.get("image_id")} of ann_id {ref["ann_id"]} is not in '
                    f"{self.ann_file} (or has no 'file_name')"
                )
            box = _xyxy_box(ann, img, f'{where} (ann_id {ref["ann_id"]} in {self.ann_file})')
            for sent in ref['sentences']:
                if not isinstance(sent, dict) or not isinstance(sent.get('sent'), str):
                    raise ValueError(f"{where}: every sentence needs a str 'sent', got {sent!r}")
                data_list.append(
                    dict(
                        img_path=osp.join(root, img['file_name']),
                        image_id=ann['image_id'],
                        ann_id=ann['id'],
                        ref_id=ref.get('ref_id', i),
                        text=sent['sent'],
                        gt_bboxes=box[None, :].copy(),  # (1, 4)
                    )
                )
        if not data_list:
            raise ValueError(f'{self.split_file}: no ref of split {self.split!r}')
        return data_list
