import pytest
import torch

from blip_plugin.evaluation.nlvr import NLVRAccuracy


def test_nlvr_accuracy() -> None:
    metric = NLVRAccuracy()
    metric.process(
        None,
        [
            dict(pred_label=1, gt_label=1),
            dict(pred_label=torch.tensor([0]), gt_label=torch.tensor(1)),
            dict(pred_label=0, gt_label=0),
            dict(pred_label=1, gt_label=0),
        ],
    )
    assert metric.compute_metrics(metric.results) == dict(accuracy=50.0)


def test_nlvr_accuracy_needs_labels() -> None:
    with pytest.raises(ValueError, match='pred_label'):
        NLVRAccuracy().process(None, [dict(gt_label=1)])
