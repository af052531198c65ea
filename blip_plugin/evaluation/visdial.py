"""VisDial v1.0 metrics as the official evaluation (visdial-challenge-starter-pytorch
``visdialch/metrics.py``): the rank of the true answer among the 100 candidates of a round
gives R@1/5/10, MRR and mean rank over every round; NDCG is computed on the round of each
dialog that has dense relevance annotations.

NDCG (official ``NDCG``): with k = the number of candidates of relevance > 0,
``DCG@k(predicted order) / DCG@k(order by relevance)``, ``DCG@k = sum_{i<k} rel_i /
log2(i + 2)`` over the top k of an order.
"""

from typing import Any, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ..registry import METRICS

__all__ = ['VisDialMetric', 'scores_to_ranks', 'ndcg']


def scores_to_ranks(scores: torch.Tensor) -> torch.Tensor:
    """Scores (..., C) -> 1-based ranks (..., C) of every candidate, best = 1.

    Ties go to the lower candidate index (a stable sort; the official code's ``torch.sort``
    leaves their order unspecified).
    """
    order = torch.sort(scores.float(), dim=-1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    positions = torch.arange(1, scores.shape[-1] + 1, device=scores.device)
    return ranks.scatter_(-1, order, positions.expand_as(order))


def _dcg(order: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
    discounts = torch.log2(torch.arange(len(order), dtype=torch.float) + 2)
    return (relevance[order].float() / discounts).sum()


def ndcg(scores: torch.Tensor, relevance: torch.Tensor) -> float:
    """NDCG of one round: ``scores`` (C,) predicted, ``relevance`` (C,) dense annotations."""
    relevance = relevance.float().cpu()
    k = int((relevance != 0).sum())
    if k == 0:
        raise ValueError('a dense-annotated round needs at least one relevant candidate')
    predicted = torch.sort(scores.float().cpu(), descending=True, stable=True).indices[:k]
    best = torch.sort(relevance, descending=True, stable=True).indices[:k]
    return float(_dcg(predicted, relevance) / _dcg(best, relevance))


@METRICS.register_module()
class VisDialMetric(BaseMetric):
    """R@1, R@5, R@10 and MRR (in %), mean rank, and NDCG (in %) of VisDial answer ranking.

    Every sample (one dialog) carries ``pred_scores`` (R, C): the model's scores of the C
    candidates of its R ranked rounds, ``gt_index`` (R,) the true answer's position per
    round (-1 where unknown, as in the test split), and, on its dense-annotated round,
    ``dense_round`` (index into the R rounds, -1 for none) and ``gt_relevance`` (C,).

    Args:
        collect_device: 'cpu' or 'gpu', for gathering results across ranks. Defaults to 'cpu'.
        prefix: metric name prefix. Defaults to 'visdial'.
    """

    default_prefix = 'visdial'

    def __init__(self, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            scores = sample.get('pred_scores')
            if scores is None:
                raise ValueError('VisDialMetric needs pred_scores (rounds, candidates)')
            scores = torch.as_tensor(scores).float().cpu()
            gt = torch.as_tensor(sample.get('gt_index')).long().reshape(-1)
            if scores.dim() != 2 or len(gt) != scores.shape[0]:
                raise ValueError(
                    f'pred_scores {tuple(scores.shape)} do not fit gt_index of {len(gt)} rounds'
                )
            known = gt >= 0
            ranks = scores_to_ranks(scores[known]).gather(1, gt[known][:, None]).squeeze(1)
            dense = int(sample.get('dense_round', -1))
            score = None
            if dense >= 0:
                score = ndcg(scores[dense], torch.as_tensor(sample.get('gt_relevance')))
            self.results.append(dict(ranks=ranks.tolist(), ndcg=score))

    def compute_metrics(self, results: list) -> dict:
        ranks = torch.tensor([r for res in results for r in res['ranks']], dtype=torch.float)
        ndcgs = [res['ndcg'] for res in results if res['ndcg'] is not None]
        if not len(ranks) and not ndcgs:
            raise ValueError('VisDialMetric got no round with a true answer or dense relevance')
        out = {}
        if len(ranks):
            for k in (1, 5, 10):
                out[f'r@{k}'] = 100.0 * float((ranks <= k).float().mean())
            out['mrr'] = 100.0 * float((1.0 / ranks).mean())
            out['mean_rank'] = float(ranks.mean())
        if ndcgs:
            out['ndcg'] = 100.0 * sum(ndcgs) / len(ndcgs)
        MMLogger.get_current_instance().info(
            f'VisDial on {len(ranks)} rounds, {len(ndcgs)} dense-annotated: '
            + ', '.join(f'{k} {v:.2f}' for k, v in out.items())
        )
        return out
