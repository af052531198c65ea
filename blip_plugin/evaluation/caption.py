"""COCO caption metric: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (and SPICE) via pycocoevalcap.

Follows the evaluation of the official BLIP (``train_caption.py`` -> ``data/utils.py``
``coco_caption_eval``) and mmpretrain's ``COCOCaption``: predictions de-duplicated by image
id, scored against a COCO-format ground-truth json on the predicted images only.
"""

import json
import numbers
import os
from collections.abc import Sequence
from typing import Any, Optional

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from blip_plugin.registry import METRICS

from .coco_caption_scorer import (
    ImageId,
    MeteorProcess,
    compute_spice,
    ptb_tokenize,
    require_java,
    score_tokenized,
    spice_install_hint,
    spice_models_available,
)

__all__ = ['COCOCaptionMetric', 'load_coco_caption_gt', 'normalize_image_id']


def normalize_image_id(image_id: Any) -> ImageId:
    """One key per image: ints (also numpy/torch scalars and digit strings such as
    ``'000000391895'``, the stem mmpretrain's ``COCOCaption`` dataset yields) become ``int``;
    other strings stay strings."""
    if hasattr(image_id, 'item') and not isinstance(image_id, str):
        image_id = image_id.item()
    if isinstance(image_id, bool):
        raise TypeError(f'image_id must be an int or a str, got {image_id!r}.')
    if isinstance(image_id, numbers.Integral):
        return int(image_id)
    if isinstance(image_id, str):
        return int(image_id) if image_id.isdigit() else image_id
    raise TypeError(
        f'image_id must be an int or a str, got {type(image_id).__name__} {image_id!r}.'
    )


def load_coco_caption_gt(ann_file: str) -> dict[ImageId, list[str]]:
    """Read a COCO-format caption ground truth (e.g. ``coco_karpathy_test_gt.json``).

    Returns:
        image id -> reference captions, in the order of ``images`` (then of any image only
        named by ``annotations``), captions in annotation order, as ``pycocotools.COCO``.
    """
    with open(ann_file, encoding='utf-8') as f:
        data = json.load(f)
    if 'annotations' not in data:
        raise ValueError(
            f'{ann_file} is not a COCO caption ground truth: it has no "annotations" list.'
        )
    gts: dict[ImageId, list[str]] = {
        normalize_image_id(img['id']): [] for img in data.get('images', [])
    }
    for ann in data['annotations']:
        gts.setdefault(normalize_image_id(ann['image_id']), []).append(ann['caption'])
    return gts


def _as_caption_list(gt_caption: Any) -> list[str]:
    if isinstance(gt_caption, str):
        return [gt_caption]
    return [str(c) for c in gt_caption]


@METRICS.register_module()
class COCOCaptionMetric(BaseMetric):
    """COCO caption scores of generated captions, the numbers ``COCOEvalCap`` gives.

    Each prediction is scored once per image id (distributed samplers pad with repeats; the
    first occurrence counts) against the ground truth of the predicted images only, as
    ``coco_eval.params['image_id'] = coco_result.getImgIds()`` does. Results use the 0..1
    scale of pycocoevalcap (BLIP's paper reports them x100); CIDEr-D is 10 x a mean cosine
    similarity, so it can exceed 1. Keys: ``Bleu_1``..``Bleu_4``, ``METEOR``, ``ROUGE_L``,
    ``CIDEr`` and, when SPICE runs, ``SPICE``. Needs ``java`` on ``PATH``.

    Args:
        ann_file (str, optional): COCO-format caption ground truth json
            (``{"images": [{"id"}], "annotations": [{"image_id", "caption", "id"}]}``), e.g.
            the official ``coco_karpathy_test_gt.json``. If None, the ``gt_caption`` of the
            data samples is the ground truth. Defaults to None.
        spice (bool, optional): Whether to compute SPICE. None runs it when its Stanford
            CoreNLP models are already on disk and otherwise skips it with one warning; True
            raises if they are missing; it never downloads. Defaults to None.
        output_file (str, optional): Where to write the de-duplicated predictions in the
            official result format ``[{"image_id", "caption"}]``. Defaults to None.
        format_only (bool): Only write ``output_file`` (e.g. for a test server) and return no
            scores. Defaults to False.
        collect_device (str): Device for gathering results across ranks, 'cpu' or 'gpu'.
            Defaults to 'cpu'.
        prefix (str, optional): Prefix of the result keys. Defaults to None, meaning
            ``'coco-caption'``.
        collect_dir (str, optional): Shared directory for gathering on 'cpu'. Defaults to None.
    """

    default_prefix: Optional[str] = 'coco-caption'

    def __init__(
        self,
        ann_file: Optional[str] = None,
        spice: Optional[bool] = None,
        output_file: Optional[str] = None,
        format_only: bool = False,
        collect_device: str = 'cpu',
        prefix: Optional[str] = None,
        collect_dir: Optional[str] = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if format_only and output_file is None:
            raise ValueError('format_only=True needs an output_file to write predictions to.')
        if spice is True and not spice_models_available():
            raise RuntimeError(
                f'spice=True but SPICE is unavailable. {spice_install_hint()} '
                'Or pass spice=None to skip it.'
            )
        self.ann_file = ann_file
        self.spice = spice
        self.output_file = output_file
        self.format_only = format_only
        self._spice_warned = False

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep each sample's image id, predicted caption and (if any) reference captions.

        Args:
            data_batch: The batch from the dataloader (unused).
            data_samples: Model outputs, ``DataSample`` objects or dicts holding
                ``image_id``, ``pred_caption`` and optionally ``gt_caption``.
        """
        for sample in data_samples:
            image_id, caption = sample.get('image_id'), sample.get('pred_caption')
            if image_id is None or caption is None:
                raise KeyError(
                    'COCOCaptionMetric needs `image_id` and `pred_caption` in every '
                    f'data sample; got image_id={image_id!r}, '
                    f'pred_caption={caption!r}.'
                )
            # With an ann_file the references come from it; don't gather them across ranks.
            gt_caption = None if self.ann_file is not None else sample.get('gt_caption')
            self.results.append(
                dict(
                    image_id=normalize_image_id(image_id),
                    caption=str(caption),
                    gt_caption=None if gt_caption is None else _as_caption_list(gt_caption),
                )
            )

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        """Score the gathered predictions (called on rank 0 only).

        Args:
            results: What :meth:`process` kept, gathered from all ranks.

        Returns:
            The scores, keyed as in the class docstring.
        """
        logger = MMLogger.get_current_instance()
        preds: dict[ImageId, str] = {}
        for result in results:
            preds.setdefault(result['image_id'], result['caption'])
        if self.output_file is not None:
            self._dump(preds, logger)
        if self.format_only:
            return {}

        gts = self._ground_truth(results)
        missing = [image_id for image_id in preds if image_id not in gts]
        if missing:
            source = self.ann_file or 'the gt_caption of the data samples'
            raise ValueError(
                f'{len(missing)} predicted image id(s) have no ground truth in '
                f'{source}: {missing[:10]}' + (' ...' if len(missing) > 10 else '')
            )
        # Ground-truth order, as COCOEvalCap iterates res.getImgIds().
        image_ids = [image_id for image_id in gts if image_id in preds]
        empty = [image_id for image_id in image_ids if not gts[image_id]]
        if empty:
            raise ValueError(f'Image id(s) {empty[:10]} have no reference caption.')

        require_java()
        # Start METEOR first: the JVM loads its paraphrase table while the tokenizer runs.
        with MeteorProcess() as meteor:
            tok_gts = ptb_tokenize({i: gts[i] for i in image_ids})
            tok_res = ptb_tokenize({i: [preds[i]] for i in image_ids})
            scores = score_tokenized(tok_gts, tok_res, meteor=meteor)
        spice = self._spice(tok_gts, tok_res, logger) if self._use_spice(logger) else None
        if spice is not None:
            scores['SPICE'] = spice
        return scores

    def _ground_truth(self, results: list[dict]) -> dict[ImageId, list[str]]:
        if self.ann_file is not None:
            return load_coco_caption_gt(self.ann_file)
        gts: dict[ImageId, list[str]] = {}
        for result in results:
            if result['gt_caption'] is None:
                raise ValueError(
                    f'Image {result["image_id"]!r} has no `gt_caption`; give the '
                    'data samples reference captions or set `ann_file`.'
                )
            gts.setdefault(result['image_id'], result['gt_caption'])
        return gts

    def _dump(self, preds: dict[ImageId, str], logger: MMLogger) -> None:
        out_dir = os.path.dirname(os.path.abspath(self.output_file))
        os.makedirs(out_dir, exist_ok=True)
        with open(self.output_file, 'w', encoding='utf-8') as f:
            json.dump([dict(image_id=i, caption=c) for i, c in preds.items()], f)
        logger.info(f'{len(preds)} captions written to {self.output_file}')

    def _use_spice(self, logger: MMLogger) -> bool:
        if self.spice is not None:
            return self.spice
        if spice_models_available():
            return True
        if not self._spice_warned:
            logger.warning(
                f'SPICE skipped. {spice_install_hint()} Pass spice=False to skip it '
                'without this warning.'
            )
            self._spice_warned = True
        return False

    def _spice(self, tok_gts: dict, tok_res: dict, logger: MMLogger) -> Optional[float]:
        try:
            return compute_spice(tok_gts, tok_res)
        except Exception as err:  # a broken SPICE should not lose the other scores
            if self.spice:
                raise
            logger.warning(f'SPICE failed and was skipped: {err}')
            return None
