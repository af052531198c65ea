"""NoCaps validation/test images for zero-shot caption evaluation."""

from typing import List

from mmengine.dataset import BaseDataset
from mmengine.fileio import get_file_backend

from blip_plugin.registry import DATASETS

from .caption_ann import load_annotation_file, require_field

__all__ = ['BlipNoCaps']


@DATASETS.register_module()
class BlipNoCaps(BaseDataset):
    """NoCaps, one sample per image.

    Reads either format:

    - official BLIP ``nocaps_{val,test}.json``: a list of ``{"image", "img_id"}``; samples are
      ``{'img_path', 'image_id'}`` (no captions: score with ``COCOCaptionMetric`` and the
      COCO-format ground truth as ``ann_file``);
    - COCO-format ground truth (``nocaps_val_4500_captions.json``): ``{"images": [{"id",
      "file_name"}], "annotations": [{"image_id", "caption"}]}``; samples also hold
      ``gt_caption: list[str]``.

    Args:
        ann_file: annotation json, relative to ``data_root`` unless absolute.
        data_root: root of ``ann_file`` and the image prefix. Defaults to ''.
        data_prefix: ``dict(img_path=...)``, the folder image paths are relative to.
            Defaults to ``dict(img_path='')``.
        **kwargs: other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def load_data_list(self) -> List[dict]:
        """Load the annotation file into samples."""
        anns = load_annotation_file(self.ann_file, (list, dict))
        prefix = self.data_prefix['img_path']
        join_path = get_file_backend(prefix).join_path
        if isinstance(anns, list):
            data_list = []
            for index, ann in enumerate(anns):
                image = require_field(ann, index, 'image', self.ann_file, str)
                img_id = require_field(ann, index, 'img_id', self.ann_file, (int, str))
                try:
                    image_id = int(img_id)
                except ValueError:
                    raise ValueError(
                        f"annotation file {self.ann_file!r}, entry {index}: key 'img_id' = "
                        f'{img_id!r} is not an integer'
                    ) from None
                data_list.append(dict(img_path=join_path(prefix, image), image_id=image_id))
            return data_list
        return self._load_coco_format(anns, prefix)

    def _load_coco_format(self, anns: dict, prefix: str) -> List[dict]:
        join_path = get_file_backend(prefix).join_path
        for key in ('images', 'annotations'):
            if not isinstance(anns.get(key), list):
                raise ValueError(f'annotation file {self.ann_file!r}: missing list {key!r}')
        captions: dict = {}
        for index, ann in enumerate(anns['annotations']):
            image_id = require_field(ann, index, 'image_id', self.ann_file, int, 'annotations')
            caption = require_field(ann, index, 'caption', self.ann_file, str, 'annotations')
            captions.setdefault(image_id, []).append(caption)
        data_list = []
        for index, img in enumerate(anns['images']):
            image_id = require_field(img, index, 'id', self.ann_file, int, 'images')
            file_name = require_field(img, index, 'file_name', self.ann_file, str, 'images')
            sample = dict(img_path=join_path(prefix, file_name), image_id=image_id)
            if image_id in captions:
                sample['gt_caption'] = captions[image_id]
            data_list.append(sample)
        return data_list
