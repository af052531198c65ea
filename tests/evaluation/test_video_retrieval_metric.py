"""Video retrieval metrics against the official eval_retrieval_video.py ``itm_eval``."""

import numpy as np
import pytest

from blip_plugin.evaluation.video_retrieval import BlipVideoRetrievalRecall, median_rank


def official_itm_eval(scores_v2t, scores_t2v, txt2vmg, vid2txt) -> dict:
    """eval_retrieval_video.py ``itm_eval``, as it is there."""
    ranks = np.zeros(scores_v2t.shape[0])
    for index, score in enumerate(scores_v2t):
        inds = np.argsort(score)[::-1]
        ranks[index] = np.where(inds == vid2txt[index])[0][0]
    tr1 = 100.0 * len(np.where(ranks < 1)[0]) / len(ranks)
    tr5 = 100.0 * len(np.where(ranks < 5)[0]) / len(ranks)
    tr10 = 100.0 * len(np.where(ranks < 10)[0]) / len(ranks)
    ranks = np.zeros(scores_t2v.shape[0])
    for index, score in enumerate(scores_t2v):
        inds = np.argsort(score)[::-1]
        ranks[index] = np.where(inds == txt2vmg[index])[0][0]
    mdR = np.median(ranks + 1)
    vr1 = 100.0 * len(np.where(ranks < 1)[0]) / len(ranks)
    vr5 = 100.0 * len(np.where(ranks < 5)[0]) / len(ranks)
    vr10 = 100.0 * len(np.where(ranks < 10)[0]) / len(ranks)
    tr_mean = (tr1 + tr5 + tr10) / 3
    vr_mean = (vr1 + vr5 + vr10) / 3
    return {
        'txt_r1': tr1,
        'txt_r5': tr5,
        'txt_r10': tr10,
        'txt_r_mean': tr_mean,
        'vid_r1': vr1,
        'vid_r5': vr5,
        'vid_r10': vr10,
        'vid_r_mean': vr_mean,
        'vid_mdR': mdR,
        'r_mean': (tr_mean + vr_mean) / 2,
    }


@pytest.mark.parametrize('n', [7, 40])
def test_equals_official_itm_eval(n):
    rng = np.random.default_rng(n)
    sims = rng.normal(size=(n, n)) + 3 * np.eye(n) * rng.random(n)  # some right, some not
    v2t, t2v = sims, sims.T + rng.normal(scale=0.5, size=(n, n))
    ids = list(range(n))  # MSR-VTT 1k-A: one caption per video
    metric = BlipVideoRetrievalRecall()
    metric.process(None, [dict(i2t_scores=v2t, t2i_scores=t2v, txt2img=ids)])
    got = metric.compute_metrics(metric.results)
    want = official_itm_eval(v2t, t2v, ids, ids)
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key
    assert got['txt_mdR'] >= 1


def test_median_rank():
    assert median_rank(np.array([0, 0, 4])) == 1.0
    assert median_rank(np.array([0, 1, 2, 9])) == 2.5
