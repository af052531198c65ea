"""VisDial metrics against hand-computed values and the official NDCG formula."""

import math

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from blip_plugin.evaluation import VisDialMetric, ndcg, scores_to_ranks


def sample(scores, gt_index, dense_round=-1, gt_relevance=None) -> DataSample:
    s = DataSample()
    s.pred_scores = torch.tensor(scores, dtype=torch.float)
    s.set_field(gt_index, 'gt_index')
    s.set_field(dense_round, 'dense_round')
    if gt_relevance is not None:
        s.set_field(gt_relevance, 'gt_relevance')
    return s


def test_scores_to_ranks_best_first_ties_by_index() -> None:
    ranks = scores_to_ranks(torch.tensor([[0.1, 0.9, 0.5, 0.9], [4.0, 3.0, 2.0, 1.0]]))
    assert ranks.tolist() == [[4, 1, 3, 2], [1, 2, 3, 4]]


def test_ndcg_hand_computed() -> None:
    rel = torch.tensor([0.0, 1.0, 0.5, 0.0, 1.0])  # k = 3 relevant candidates
    # predicted order 0, 1, 2, 3, 4: top 3 relevances 0, 1, 0.5
    dcg = 0.0 + 1.0 / math.log2(3) + 0.5 / math.log2(4)
    best = 1.0 + 1.0 / math.log2(3) + 0.5 / math.log2(4)
    assert ndcg(torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0]), rel) == pytest.approx(dcg / best)
    assert ndcg(torch.tensor([0.0, 3.0, 1.0, 0.0, 2.0]), rel) == pytest.approx(1.0)
    # only the top k count: order 0, 3, 4, 2, 1 scores the relevance 1 at rank 3 alone
    assert ndcg(torch.tensor([9.0, 1.0, 2.0, 8.0, 3.0]), rel) == pytest.approx(0.5 / best)
    with pytest.raises(ValueError, match='relevant'):
        ndcg(torch.zeros(5), torch.zeros(5))


def _official_ndcg(scores: np.ndarray, rel: np.ndarray) -> float:
    """visdialch/metrics.py NDCG, written out with numpy (ties excluded by the test data)."""
    k = int((rel != 0).sum())
    ranks = np.empty(len(scores), dtype=int)
    ranks[np.argsort(-scores)] = np.arange(1, len(scores) + 1)
    rankings = np.argsort(ranks)[:k]
    best = np.argsort(-rel, kind='stable')[:k]
    discounts = np.log2(np.arange(k) + 2)
    return float((rel[rankings] / discounts).sum() / (rel[best] / discounts).sum())


def test_ndcg_matches_the_official_formula_on_random_rounds() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.permutation(100).astype(float)
        rel = rng.choice([0.0, 0.0, 0.0, 0.25, 0.5, 1.0], size=100)
        rel[int(rng.integers(100))] = 1.0
        assert ndcg(torch.tensor(scores), torch.tensor(rel)) == pytest.approx(
            _official_ndcg(scores, rel), abs=1e-6
        )


def test_metric_recall_mrr_mean_rank_and_ndcg() -> None:
    C = 12
    base = [float(C - i) for i in range(C)]  # candidate i is ranked i + 1
    rel = [0.0] * C
    rel[0], rel[2] = 1.0, 0.5
    metric = VisDialMetric()
    metric.process(
        None,
        [
            # dialog 1: true answers at ranks 1 and 6; dense round 0
            sample([base, base], [0, 5], dense_round=0, gt_relevance=rel),
            # dialog 2: ranks 11 and 3; the second round's answer unknown (-1) is skipped
            sample([base, base, base], [10, -1, 2]),
        ],
    )
    out = metric.compute_metrics(metric.results)
    ranks = [1, 6, 11, 3]
    assert out['r@1'] == pytest.approx(25.0)
    assert out['r@5'] == pytest.approx(50.0)
    assert out['r@10'] == pytest.approx(75.0)
    assert out['mrr'] == pytest.approx(100 * sum(1 / r for r in ranks) / 4)
    assert out['mean_rank'] == pytest.approx(sum(ranks) / 4)
    # k = 2 relevant: the top 2 are candidates 0 (1.0) and 1 (0), the best 0 and 2 (0.5)
    assert out['ndcg'] == pytest.approx(100.0 / (1.0 + 0.5 / math.log2(3)))


def test_metric_errors() -> None:
    metric = VisDialMetric()
    with pytest.raises(ValueError, match='pred_scores'):
        metric.process(None, [DataSample()])
    with pytest.raises(ValueError, match='gt_index'):
        metric.process(None, [sample([[1.0, 2.0]], [0, 1])])
    with pytest.raises(ValueError, match='no round'):
        metric.compute_metrics([])
