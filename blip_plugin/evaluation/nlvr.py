"""NLVR2 accuracy: the share of statements whose True/False is predicted right."""

from typing import Any, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ..registry import METRICS

__all__ = ['NLVRAccuracy']


def _int(value: Any) -> int:
    if hasattr(value, 'reshape'):
        value = value.reshape(-1)[0]
    return int(value.item() if hasattr(value, 'item') else value)


@METRICS.register_module()
class NLVRAccuracy(BaseMetric):
    """Accuracy (in %) of ``pred_label`` against ``gt_label`` (0 = False, 1 = True).

    Args:
        collect_device: 'cpu' or 'gpu', for gathering results across ranks. Defaults to 'cpu'.
        prefix: metric name prefix. Defaults to 'nlvr'.
    """

    default_prefix = 'nlvr'

    def __init__(self, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            pred, gt = sample.get('pred_label'), sample.get('gt_label')
            if pred is None or gt is None:
                raise ValueError('NLVRAccuracy needs pred_label and gt_label in every sample')
            self.results.append((_int(pred), _int(gt)))

    def compute_metrics(self, results: list) -> dict:
        if not results:
            raise ValueError('NLVRAccuracy got no samples')
        acc = 100.0 * sum(p == g for p, g in results) / len(results)
        MMLogger.get_current_instance().info(f'NLVR2 accuracy {acc:.2f} on {len(results)}')
        return dict(accuracy=acc)
