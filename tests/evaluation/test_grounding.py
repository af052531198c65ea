import pytest
import torch

from blip_plugin.evaluation.grounding import VisualGroundingAccuracy


def _score(pairs: list, **kw) -> dict:
    metric = VisualGroundingAccuracy(**kw)
    metric.process({}, [dict(pred_bboxes=p, gt_bboxes=g) for p, g in pairs])
    return metric.compute_metrics(metric.results)


def test_hand_computed_cases() -> None:
    gt = [0.0, 0.0, 10.0, 10.0]  # area 100
    pairs = [
        (torch.tensor([[0.0, 0.0, 10.0, 10.0]]), gt),  # IoU 1
        (torch.tensor([[0.0, 0.0, 10.0, 5.0]]), gt),  # inter 50, union 100: IoU 0.5 counts
        (torch.tensor([[5.0, 0.0, 15.0, 10.0]]), gt),  # inter 50, union 150: IoU 1/3
        (torch.tensor([[20.0, 20.0, 30.0, 30.0]]), gt),  # disjoint: IoU 0
    ]
    out = _score(pairs)
    assert out['acc'] == pytest.approx(50.0)
    assert out['miou'] == pytest.approx(100 * (1 + 0.5 + 1 / 3 + 0) / 4)


def test_threshold_and_degenerate_boxes() -> None:
    gt = [[0.0, 0.0, 10.0, 10.0]]
    pairs = [([0.0, 0.0, 10.0, 6.0], gt), ([3.0, 3.0, 3.0, 3.0], [[3.0, 3.0, 3.0, 3.0]])]
    out = _score(pairs, iou_thr=0.7)  # IoU 0.6 fails 0.7; an empty union scores 0
    assert out['acc'] == 0.0
    assert out['miou'] == pytest.approx(30.0)
    assert _score(pairs[:1])['acc'] == 100.0


def test_errors() -> None:
    metric = VisualGroundingAccuracy()
    with pytest.raises(ValueError, match='pred_bboxes and gt_bboxes'):
        metric.process({}, [dict(gt_bboxes=[0, 0, 1, 1])])
    with pytest.raises(ValueError, match='one box'):
        metric.process({}, [dict(pred_bboxes=[0, 0, 1], gt_bboxes=[0, 0, 1, 1])])
    with pytest.raises(ValueError, match='no samples'):
        metric.compute_metrics([])
