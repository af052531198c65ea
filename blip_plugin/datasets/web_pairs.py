"""Image-text pairs for pre-training: the official annotation lists (COCO, VG, CC, SBU,
LAION: ``[{"image": path, "caption": str}, ...]``, official data/pretrain_dataset.py), as
JSON or JSON lines."""

import json
import os
from typing import Any, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset
from mmengine.fileio import get_local_path

from ..registry import DATASETS
from .transforms.clean_caption import pre_caption

__all__ = ['pre_caption', 'numbered_annotations', 'read_annotations', 'WebPairs']


def numbered_annotations(path: str) -> List[Tuple[str, Any]]:
    """``(position, annotation)`` pairs of a JSON list (``annotation 3``) or of JSON lines
    (``line 4``, counting blank lines), for errors that point at the annotation."""
    with get_local_path(path) as local, open(local, encoding='utf-8') as f:
        if path.endswith('.jsonl'):
            data = []
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    data.append((f'line {n}', json.loads(line)))
                except ValueError as err:
                    raise ValueError(f'{path}: line {n} is not valid JSON ({err})') from err
            return data
        try:
            data = json.load(f)
        except ValueError as err:
            raise ValueError(f'{path}: not valid JSON ({err})') from err
    if not isinstance(data, list):
        raise ValueError(f'{path}: expected a JSON list of annotations, got {type(data).__name__}')
    return [(f'annotation {n}', ann) for n, ann in enumerate(data)]


def read_annotations(path: str) -> list:
    """A JSON list, or JSON lines (``.jsonl``, one object a line), of annotations."""
    return [ann for _, ann in numbered_annotations(path)]


@DATASETS.register_module()
class WebPairs(BaseDataset):
    """Image-text pairs from one or more annotation lists.

    Each annotation is ``{"image": path, "caption": str or [str, ...]}``; a list of captions
    gives one sample per caption. Samples carry ``img_path`` and ``gt_caption`` (cleaned
    with :func:`pre_caption`). A malformed annotation or a caption that cleans to nothing
    fails at build time, naming the file and the annotation (index in a JSON list, line in
    JSON lines). For lists too large to index in memory, see :class:`WebShardPairs`.

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
            for position, ann in numbered_annotations(ann_file):
                where = f'{ann_file}: {position}'
                if not isinstance(ann, dict) or 'image' not in ann or 'caption' not in ann:
                    has = sorted(ann) if isinstance(ann, dict) else type(ann).__name__
                    raise KeyError(f'{where} needs "image" and "caption"; has {has}')
                captions = ann['caption']
                captions = [captions] if isinstance(captions, str) else captions
                if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
                    raise TypeError(
                        f'{where}: caption must be a str or a list of str, got {captions!r}'
                    )
                if not captions:
                    raise ValueError(f'{where}: empty caption list for {ann["image"]}')
                img_path = os.path.join(self.data_prefix['img_path'], ann['image'])
                for caption in captions:
                    cleaned = pre_caption(caption, self.max_words)
                    if not cleaned:
                        raise ValueError(f'{where}: empty caption {caption!r} for {ann["image"]}')
                    data_list.append(dict(img_path=img_path, gt_caption=cleaned))
        return data_list
