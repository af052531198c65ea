"""Image-text retrieval evaluation: recall of the ground truth among the top 1/5/10
(official train_retrieval.py ``itm_eval``), and the loops that score a whole split.

Retrieval cannot be evaluated batch by batch: every text must be ranked against every
image. :class:`BlipRetrievalValLoop` / :class:`BlipRetrievalTestLoop` therefore collect the
model's features over the split (``mode='tensor'``), let the model score all pairs
(``retrieval_scores``: ITC, then ITM re-rank split across ranks) and hand the two score
matrices to the metric.
"""

from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop, autocast

from ..registry import LOOPS, METRICS

__all__ = [
    'retrieval_ranks',
    'recall_at',
    'BlipRetrievalRecall',
    'BlipRetrievalValLoop',
    'BlipRetrievalTestLoop',
]

RECALL_KS = (1, 5, 10)


def retrieval_ranks(
    i2t_scores: torch.Tensor, t2i_scores: torch.Tensor, txt2img: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """0-based rank of the best ground truth of every query.

    Args:
        i2t_scores: (I, T) score of every text for each image.
        t2i_scores: (T, I) score of every image for each text.
        txt2img: (T,) the image of each text; an image's ground truths are its texts.

    Returns:
        (i2t ranks (I,), t2i ranks (T,)): how many candidates score strictly higher than the
        query's best ground truth. (The official code sorts; the two agree except among tied
        scores, where this counts in the query's favour.)
    """
    i2t = torch.as_tensor(i2t_scores).float()
    t2i = torch.as_tensor(t2i_scores).float()
    txt2img = torch.as_tensor(txt2img, dtype=torch.long)
    n_img, n_txt = i2t.shape
    if t2i.shape != (n_txt, n_img) or txt2img.shape != (n_txt,):
        raise ValueError(
            f'shapes do not fit: i2t {tuple(i2t.shape)}, t2i {tuple(t2i.shape)}, '
            f'txt2img {tuple(txt2img.shape)}'
        )
    gt = torch.zeros(n_img, n_txt, dtype=torch.bool)
    gt[txt2img, torch.arange(n_txt)] = True
    if not bool(gt.any(1).all()):
        raise ValueError('every image needs at least one text')
    best = i2t.masked_fill(~gt, float('-inf')).max(1, keepdim=True).values  # (I, 1)
    i2t_rank = (i2t > best).sum(1)
    best_t = t2i.gather(1, txt2img[:, None])  # (T, 1)
    t2i_rank = (t2i > best_t).sum(1)
    return i2t_rank.numpy(), t2i_rank.numpy()


def recall_at(ranks: np.ndarray, k: int) -> float:
    """Percentage of queries whose best ground truth is among the top ``k``."""
    return 100.0 * float(np.mean(np.asarray(ranks) < k))


@METRICS.register_module()
class BlipRetrievalRecall(BaseMetric):
    """Image-to-text and text-to-image recall at 1, 5 and 10 and their means.

    Keys, as the official ``itm_eval``: ``txt_r1``, ``txt_r5``, ``txt_r10``, ``txt_r_mean``
    (image -> text), ``img_r1`` ... ``img_r_mean`` (text -> image) and ``r_mean``.

    ``process`` takes dicts with ``i2t_scores`` (I, T), ``t2i_scores`` (T, I) and
    ``txt2img`` (T,) (what ``BlipRetrieval.retrieval_scores`` returns); each dict is one
    split, and ranks of several are pooled.

    Args:
        collect_device: 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix: of the metric names. Defaults to 'retrieval'.
    """

    default_prefix = 'retrieval'

    def __init__(self, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            i2t, t2i = retrieval_ranks(
                sample['i2t_scores'], sample['t2i_scores'], sample['txt2img']
            )
            self.results.append(dict(i2t_ranks=i2t, t2i_ranks=t2i))

    def compute_metrics(self, results: list) -> dict:
        i2t = np.concatenate([r['i2t_ranks'] for r in results])
        t2i = np.concatenate([r['t2i_ranks'] for r in results])
        out = {f'txt_r{k}': recall_at(i2t, k) for k in RECALL_KS}
        out.update({f'img_r{k}': recall_at(t2i, k) for k in RECALL_KS})
        out['txt_r_mean'] = sum(out[f'txt_r{k}'] for k in RECALL_KS) / len(RECALL_KS)
        out['img_r_mean'] = sum(out[f'img_r{k}'] for k in RECALL_KS) / len(RECALL_KS)
        out['r_mean'] = (out['txt_r_mean'] + out['img_r_mean']) / 2
        return out


def _run_retrieval(loop, stage: str) -> dict:
    runner = loop.runner
    runner.call_hook(f'before_{stage}')
    runner.call_hook(f'before_{stage}_epoch')
    runner.model.eval()
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    batches = []
    for idx, data_batch in enumerate(loop.dataloader):
        runner.call_hook(f'before_{stage}_iter', batch_idx=idx, data_batch=data_batch)
        with torch.no_grad(), autocast(enabled=loop.fp16):
            data = model.data_preprocessor(data_batch, False)
            feats = model(**data, mode='tensor')
        # image embeddings wait on the CPU, as in the official evaluation
        feats['image_embeds'] = feats['image_embeds'].cpu()
        batches.append(feats)
        runner.call_hook(f'after_{stage}_iter', batch_idx=idx, data_batch=data_batch, outputs=[])
    feats = {k: torch.cat([b[k].to(batches[0][k].device) for b in batches]) for k in batches[0]}
    with torch.no_grad(), autocast(enabled=loop.fp16):
        scores = model.retrieval_scores(feats)
    loop.evaluator.process([scores])
    metrics = loop.evaluator.evaluate(1)
    runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
    runner.call_hook(f'after_{stage}')
    return metrics


@LOOPS.register_module()
class BlipRetrievalValLoop(ValLoop):
    """Validation over a retrieval split: features of every batch, then the model's
    ``retrieval_scores`` over the whole split, then the evaluator. Arguments as ``ValLoop``'s;
    the model must have ``mode='tensor'`` features and ``retrieval_scores``."""

    def run(self) -> dict:
        return _run_retrieval(self, 'val')


@LOOPS.register_module()
class BlipRetrievalTestLoop(TestLoop):
    """Test over a retrieval split; see :class:`BlipRetrievalValLoop`."""

    def run(self) -> dict:
        return _run_retrieval(self, 'test')
