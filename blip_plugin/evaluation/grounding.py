"""Visual grounding accuracy: the share of predicted boxes with IoU >= 0.5 against the
ground truth, and the mean IoU (mmpretrain evaluation/metrics/visual_grounding_eval.py)."""

from typing import Any, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ..models.heads.grounding_head import box_iou
from ..registry import METRICS

__all__ = ['VisualGroundingAccuracy']


def _one_box(value: Any, key: str) -> torch.Tensor:
    box = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    if box.numel() != 4:
        raise ValueError(f'{key} must hold one box (x1, y1, x2, y2), got {box.numel()} values')
    return box


@METRICS.register_module()
class VisualGroundingAccuracy(BaseMetric):
    """Accuracy (% of samples whose ``pred_bboxes`` has IoU >= ``iou_thr`` with
    ``gt_bboxes``) and mean IoU (%); both boxes are one x1, y1, x2, y2 box in pixels.

    Args:
        iou_thr: IoU a prediction needs to count as correct. Defaults to 0.5.
        collect_device: 'cpu' or 'gpu', for gathering results across ranks. Defaults to 'cpu'.
        prefix: metric name prefix. Defaults to 'visual-grounding' (mmpretrain's).
    """

    default_prefix = 'visual-grounding'

    def __init__(
        self, iou_thr: float = 0.5, collect_device: str = 'cpu', prefix: Optional[str] = None
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.iou_thr = iou_thr

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            pred, gt = sample.get('pred_bboxes'), sample.get('gt_bboxes')
            if pred is None or gt is None:
                raise ValueError(
                    'VisualGroundingAccuracy needs pred_bboxes and gt_bboxes in every sample'
                )
            self.results.append((_one_box(pred, 'pred_bboxes'), _one_box(gt, 'gt_bboxes')))

    def compute_metrics(self, results: list) -> dict:
        if not results:
            raise ValueError('VisualGroundingAccuracy got no samples')
        pred = torch.stack([p for p, _ in results])  # (N, 4)
        gt = torch.stack([g for _, g in results])  # (N, 4)
        iou, _ = box_iou(pred, gt)  # (N,)
        acc = 100.0 * float((iou >= self.iou_thr).double().mean())
        miou = 100.0 * float(iou.mean())
        MMLogger.get_current_instance().info(
            f'grounding accuracy@{self.iou_thr} {acc:.2f}, mIoU {miou:.2f} on {len(results)}'
        )
        return dict(acc=acc, miou=miou)
