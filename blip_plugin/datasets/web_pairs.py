"""Image-text pairs for pre-training: the official annotation lists (COCO, VG, CC, SBU,
LAION: ``[{"image": path, "caption": str}, ...]``, official data/pretrain_dataset.py), as
JSON or JSON lines."""

import json
import os
from typing import Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.fileio import get_local_path

from ..registry import DATASETS
from .transforms.clean_caption import pre_caption

__all__ = ['pre_caption', 'read_annotations', 'WebPairs']


def read_annotations(path: str) -> list:
    """A JSON list, or JSON lines (``.jsonl``, one object a line), of annotations."""
    with get_local_path(path) as local, open(local, encoding='utf-8') as f:
        if path.endswith('.jsonl'):
            return [json.loads(line) for line in f if line.strip()]
        data = json.load(f)
    if not isinstance(data, list):
        raise ValueError(f'{path}: expected a JSON list of annotations, got {type(data).__name__}')
    return data


@DATASETS.register_module()
class WebPairs(BaseDataset):
    """Image-text pairs from one or more annotation lists.

    Each annotation is ``{"image": path, "caption": str or [str, ...]}``; a list of captions
    gives one sample per caption. Samples carry ``img_path`` and ``gt_caption`` (cleaned
    with :func:`pre_caption`).

    Args:
        ann_file: a file, or a list of files, of annotations (``.json`` or ``.jsonl``).
        data_root: joined before relative ``ann_file`` and ``data_prefix`` paths.
        data_prefix: ``dict(img_path=...)``, joined before every image path. Defaults to
            ``dict(img_path='')``.
        max_words: captions are cut to this many words. Defaults to 30 (official).
        pipeline: data transforms.
        **kwargs: other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(
        self,
        ann_file: Union[str, Sequence[str]],
        data_root: str = '',
        data_prefix: Optional[dict] = None,
        max_words: int = 30,
        pipeline: Sequence = (),
        **kwargs,
    ) -> None:
        self.ann_files = [ann_file] if isinstance(ann_file, str) else list(ann_file)
        self.max_words = max_words
        super().__init__(
            ann_file='',
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path=''),
            pipeline=pipeline,
            **kwargs,
        )

    def load_data_list(self) -> list:
        data_list = []
        for ann_file in self.ann_files:
            if self.data_root and not os.path.isabs(ann_file):
                ann_file = os.path.join(self.data_root, ann_file)
            for n, ann in enumerate(read_annotations(ann_file)):
                if 'image' not in ann or 'caption' not in ann:
                    raise KeyError(
                        f'{ann_file}: annotation {n} needs "image" and "caption"; has {sorted(ann)}'
                    )
                captions = ann['caption']
                captions = [captions] if isinstance(captions, str) else list(captions)
                img_path = os.path.join(self.data_prefix['img_path'], ann['image'])
                data_list += [
                    dict(img_path=img_path, gt_caption=pre_caption(c, self.max_words))
                    for c in captions
                ]
        return data_list
