"""COCO and Flickr30k Karpathy-split retrieval datasets in the official BLIP annotation format
(data/coco_karpathy_dataset.py, data/flickr30k_dataset.py).

Training files list ``{"image", "caption": str, "image_id"}``: one sample per caption, with
``image_idx`` the image's contiguous index (texts of one image are all ITC positives).
Evaluation files list ``{"image", "caption": [str, ...]}``: one sample per image, with its
texts and their split-wide indices; the dataset also exposes ``texts``, ``txt2img`` and
``img2txt``.
"""

import os
from typing import Optional, Sequence

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .caption_ann import require_caption, require_field
from .transforms.clean_caption import pre_caption
from .web_pairs import read_annotations

__all__ = ['KarpathyRetrieval', 'COCORetrievalKarpathy', 'Flickr30kRetrievalKarpathy']


@DATASETS.register_module()
class KarpathyRetrieval(BaseDataset):
    """Image-text retrieval split in the official BLIP annotation format.

    Args:
        ann_file: annotation JSON (e.g. ``annotations/coco_karpathy_test.json``).
        data_root: joined before ``ann_file`` and ``data_prefix``.
        data_prefix: ``dict(img_path=...)``, joined before every image path.
        test_mode: evaluation layout (one sample per image, its texts listed) instead of
            training layout (one sample per caption). Defaults to False.
        max_words: captions are cut to this many words. Defaults to 30 (official).
        pipeline: data transforms.
        **kwargs: other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix: Optional[dict] = None,
        test_mode: bool = False,
        max_words: int = 30,
        pipeline: Sequence = (),
        **kwargs,
    ) -> None:
        self.max_words = max_words
        self.texts: list = []
        self.txt2img: list = []
        self.img2txt: list = []
        self._num_images = self._num_texts = 0
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path=''),
            test_mode=test_mode,
            pipeline=pipeline,
            **kwargs,
        )

    def load_data_list(self) -> list:
        anns = read_annotations(self.ann_file)
        prefix = self.data_prefix['img_path']
        return self._eval_list(anns, prefix) if self.test_mode else self._train_list(anns, prefix)

    def _train_list(self, anns: list, prefix: str) -> list:
        image_idx: dict = {}
        data_list = []
        for n, ann in enumerate(anns):
            image = require_field(ann, n, 'image', self.ann_file, str)
            caption = ann.get('caption')
            if not isinstance(caption, str):
                raise ValueError(
                    f'{self.ann_file}: training annotation {n} needs one caption '
                    '(str); is this an evaluation file? (set test_mode=True)'
                )
            cleaned = self._clean(caption, n)
            key = ann.get('image_id', image)
            idx = image_idx.setdefault(key, len(image_idx))
            data_list.append(
                dict(img_path=os.path.join(prefix, image), gt_caption=cleaned, image_idx=idx)
            )
        self._num_images, self._num_texts = len(image_idx), len(data_list)
        return data_list

    def _eval_list(self, anns: list, prefix: str) -> list:
        data_list = []
        self.texts, self.txt2img, self.img2txt = [], [], []
        for i, ann in enumerate(anns):
            image = require_field(ann, i, 'image', self.ann_file, str)
            captions = require_caption(ann, i, self.ann_file)
            captions = [captions] if isinstance(captions, str) else list(captions)
            ids = list(range(len(self.texts), len(self.texts) + len(captions)))
            self.texts += [self._clean(c, i) for c in captions]
            self.txt2img += [i] * len(captions)
            self.img2txt.append(ids)
            data_list.append(
                dict(
                    img_path=os.path.join(prefix, image),
                    gt_caption=self.texts[len(self.texts) - len(ids) :],
                    image_idx=i,
                    text_idx=ids,
                )
            )
        self._num_images, self._num_texts = len(data_list), len(self.texts)
        return data_list

    def _clean(self, caption: str, index: int) -> str:
        cleaned = pre_caption(caption, self.max_words)
        if not cleaned:
            raise ValueError(
                f'annotation file {self.ann_file!r}, entry {index}: caption {caption!r} is '
                'empty after cleaning (pre_caption)'
            )
        return cleaned

    @property
    def num_images(self) -> int:
        return self._num_images

    @property
    def num_texts(self) -> int:
        return self._num_texts


@DATASETS.register_module()
class COCORetrievalKarpathy(KarpathyRetrieval):
    """COCO Karpathy retrieval (5k test images, 25k texts; official k_test 256)."""


@DATASETS.register_module()
class Flickr30kRetrievalKarpathy(KarpathyRetrieval):
    """Flickr30k Karpathy retrieval (1k test images, 5k texts; official k_test 128)."""
