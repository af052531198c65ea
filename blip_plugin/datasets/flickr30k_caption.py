"""Flickr30k captions in the Karpathy split files of the official BLIP release."""

from typing import List

from mmengine.dataset import BaseDataset

from blip_plugin.registry import DATASETS

from .coco_caption import load_karpathy_captions

__all__ = ['BlipFlickr30kCaption']


@DATASETS.register_module()
class BlipFlickr30kCaption(BaseDataset):
    """Flickr30k (Karpathy split) as released with BLIP.

    Reads ``flickr30k_{train,val,test}.json``, the same format as
    :class:`BlipCOCOCaption`: train entries ``{"image", "caption": str}`` (one sample per
    caption), val/test entries ``{"image", "caption": [str, ...]}`` (one sample per image).
    ``image_id`` is the file name's number (``1000092795.jpg`` -> 1000092795). mmpretrain's
    ``Flickr30kCaption`` reads Karpathy's raw ``dataset_flickr30k.json`` instead.

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
