"""COCO captions in the Karpathy split files of the official BLIP release."""

from typing import List

from mmengine.dataset import BaseDataset
from mmengine.fileio import get_file_backend

from blip_plugin.registry import DATASETS

from .caption_ann import image_id_from_path, load_annotation_file, require_caption, require_field

__all__ = ['BlipCOCOCaption', 'load_karpathy_captions']


def load_karpathy_captions(ann_file: str, img_prefix: str) -> List[dict]:
    """Read a Karpathy caption file (official BLIP ``coco_karpathy_*.json`` format).

    Train entries ``{"image", "caption": str, ...}`` give one sample per caption; val/test
    entries ``{"image", "caption": [str, ...]}`` give one sample per image holding every
    reference caption.
    """
    anns = load_annotation_file(ann_file, list)
    join_path = get_file_backend(img_prefix).join_path
    data_list = []
    for index, ann in enumerate(anns):
        image = require_field(ann, index, 'image', ann_file, str)
        data_list.append(
            dict(
                img_path=join_path(img_prefix, image),
                gt_caption=require_caption(ann, index, ann_file),
                image_id=image_id_from_path(image, index, ann_file),
            )
        )
    return data_list


@DATASETS.register_module()
class BlipCOCOCaption(BaseDataset):
    """COCO Caption (Karpathy split) as released with BLIP.

    Reads ``coco_karpathy_{train,val,test}.json`` (or the shapes world's
    ``caption_{split}.json``): a list of ``{"image", "caption"}``. Train samples are
    ``{'img_path', 'gt_caption': str, 'image_id': int}``, one per caption; val/test samples
    hold ``gt_caption: list[str]``, one per image. ``image_id`` is the trailing number of the
    image file name, the id of the COCO-format ground truth ``*_gt.json``. Images are not
    opened here.

    The name differs from mmpretrain's ``COCOCaption`` (a string ``image_id``, one sample per
    caption everywhere) on purpose.

    Args:
        ann_file: annotation json, relative to ``data_root`` unless absolute.
        data_root: root of ``ann_file`` and the image prefix. Defaults to ''.
        data_prefix: ``dict(img_path=...)``, the folder the ``"image"`` paths are relative
            to. Defaults to ``dict(img_path='')``.
        **kwargs: other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def load_data_list(self) -> List[dict]:
        """Load the annotation file into samples."""
        return load_karpathy_captions(self.ann_file, self.data_prefix['img_path'])
