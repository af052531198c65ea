"""NLVR2 in the official BLIP json format (data/nlvr_dataset.py).

Each entry is ``{"images": [a, b], "sentence": str, "label": "True" | "False"}``; a sample
carries ``img_path`` (both paths, in order), ``text`` (cleaned as official ``pre_caption``)
and ``gt_label`` (1 for 'True', 0 for 'False').
"""

import json
import os.path as osp
from typing import Optional

from mmengine.dataset import BaseDataset
from mmengine.fileio import get_local_path

from ..registry import DATASETS
from .transforms.clean_caption import pre_caption

__all__ = ['NLVR2Dataset']

_LABELS = {'True': 1, 'False': 0}


@DATASETS.register_module()
class NLVR2Dataset(BaseDataset):
    """NLVR2 pairs of images with a statement that is true or false of the pair.

    Args:
        ann_file: the official BLIP json (``nlvr_{train,dev,test}.json``).
        data_root: joined with ``ann_file`` and ``data_prefix``. Defaults to ''.
        data_prefix: ``dict(img_path=...)``, the image folder. Defaults to ``dict(img_path='')``.
        max_words: statements are cut to this many words. Defaults to 40 (official
            nlvr_dataset.py: ``pre_caption(ann['sentence'], 40)``). The official training-time
            random swap of the two images (and of 'left'/'right') is a transform's job.
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix: Optional[dict] = None,
        max_words: int = 40,
        **kwargs,
    ) -> None:
        self.max_words = max_words
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path=''),
            **kwargs,
        )

    def load_data_list(self) -> list:
        with get_local_path(self.ann_file) as local, open(local, encoding='utf-8') as f:
            entries = json.load(f)
        if not isinstance(entries, list):
            raise ValueError(f'{self.ann_file}: expected a JSON list of NLVR2 entries')
        root = self.data_prefix.get('img_path', '')
        data_list = []
        for i, e in enumerate(entries):
            where = f'{self.ann_file} entry {i}'
            images, label = e.get('images'), e.get('label')
            if not isinstance(images, list) or len(images) != 2:
                raise ValueError(f"{where}: 'images' must be a list of two paths, got {images!r}")
            if str(label) not in _LABELS:
                raise ValueError(f"{where}: 'label' must be 'True' or 'False', got {label!r}")
            if not isinstance(e.get('sentence'), str):
                raise ValueError(f"{where}: missing str 'sentence'")
            data_list.append(
                dict(
                    img_path=[osp.join(root, p) for p in images],
                    text=pre_caption(e['sentence'], self.max_words),
                    gt_label=_LABELS[str(label)],
                    sample_idx=i,
                )
            )
        return data_list
