"""Text-video retrieval metrics as the official eval_retrieval_video.py ``itm_eval``: recall at
1/5/10 both ways and the median rank of the ground-truth video (paper Table 10 reports
text-to-video R@1/5/10 and MdR).

The scores come from the same split-wide evaluation as image retrieval
(``BlipRetrievalTestLoop`` and ``BlipVideoRetrieval.retrieval_scores``).
"""

from typing import Optional

import numpy as np

from ..registry import METRICS
from .retrieval import RECALL_KS, BlipRetrievalRecall, recall_at

__all__ = ['median_rank', 'BlipVideoRetrievalRecall']


def median_rank(ranks: np.ndarray) -> float:
    """Median 1-based rank of the ground truth (official ``np.median(ranks + 1)``)."""
    return float(np.median(np.asarray(ranks) + 1))


@METRICS.register_module()
class BlipVideoRetrievalRecall(BlipRetrievalRecall):
    """Video-to-text and text-to-video recall at 1, 5 and 10, their means and median ranks.

    Keys, as the official ``itm_eval``: ``txt_r1``, ``txt_r5``, ``txt_r10``, ``txt_r_mean``
    (video -> text), ``vid_r1`` ... ``vid_r_mean``, ``vid_mdR`` (text -> video; the paper's
    numbers), ``r_mean``; and ``txt_mdR``. ``process`` takes what
    ``BlipVideoRetrieval.retrieval_scores`` returns, as :class:`BlipRetrievalRecall`.

    Args:
        collect_device: 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix: of the metric names. Defaults to 'retrieval'.
    """

    def __init__(self, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def compute_metrics(self, results: list) -> dict:
        v2t = np.concatenate([r['i2t_ranks'] for r in results])
        t2v = np.concatenate([r['t2i_ranks'] for r in results])
        out = {f'txt_r{k}': recall_at(v2t, k) for k in RECALL_KS}
        out.update({f'vid_r{k}': recall_at(t2v, k) for k in RECALL_KS})
        out['txt_r_mean'] = sum(out[f'txt_r{k}'] for k in RECALL_KS) / len(RECALL_KS)
        out['vid_r_mean'] = sum(out[f'vid_r{k}'] for k in RECALL_KS) / len(RECALL_KS)
        out['vid_mdR'] = median_rank(t2v)
        out['txt_mdR'] = median_rank(v2t)
        out['r_mean'] = (out['txt_r_mean'] + out['vid_r_mean']) / 2
        return out
