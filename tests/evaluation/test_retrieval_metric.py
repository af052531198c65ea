"""Retrieval recall: hand-computed cases and agreement with the official ``itm_eval``."""

import numpy as np
import pytest
import torch

from blip_plugin.evaluation.retrieval import BlipRetrievalRecall, retrieval_ranks


def official_itm_eval(scores_i2t, scores_t2i, txt2img, img2txt) -> dict:
    """train_retrieval.py ``itm_eval``, verbatim but for formatting."""
    ranks = np.zeros(scores_i2t.shape[0])
    for index, score in enumerate(scores_i2t):
        inds = np.argsort(score)[::-1]
        rank = 1e20
        for i in img2txt[index]:
            tmp = np.where(inds == i)[0][0]
            if tmp < rank:
                rank = tmp
        ranks[index] = rank
    tr1, tr5, tr10 = (100.0 * len(np.where(ranks < k)[0]) / len(ranks) for k in (1, 5, 10))
    ranks = np.zeros(scores_t2i.shape[0])
    for index, score in enumerate(scores_t2i):
        inds = np.argsort(score)[::-1]
        ranks[index] = np.where(inds == txt2img[index])[0][0]
    ir1, ir5, ir10 = (100.0 * len(np.where(ranks < k)[0]) / len(ranks) for k in (1, 5, 10))
    tr_mean, ir_mean = (tr1 + tr5 + tr10) / 3, (ir1 + ir5 + ir10) / 3
    return {
        'txt_r1': tr1,
        'txt_r5': tr5,
        'txt_r10': tr10,
        'txt_r_mean': tr_mean,
        'img_r1': ir1,
        'img_r5': ir5,
        'img_r10': ir10,
        'img_r_mean': ir_mean,
        'r_mean': (tr_mean + ir_mean) / 2,
    }


def evaluate(i2t, t2i, txt2img) -> dict:
    metric = BlipRetrievalRecall()
    metric.process(None, [dict(i2t_scores=i2t, t2i_scores=t2i, txt2img=txt2img)])
    return metric.compute_metrics(metric.results)


def test_hand_computed():
    # 2 images; texts 0, 1 belong to image 0, text 2 to image 1
    txt2img = [0, 0, 1]
    i2t = torch.tensor(
        [
            [0.1, 0.9, 0.5],  # image 0: its text 1 is first -> rank 0
            [0.8, 0.7, 0.6],
        ]
    )  # image 1: its text 2 is third -> rank 2
    t2i = torch.tensor(
        [
            [0.2, 0.3],  # text 0: image 0 second -> rank 1
            [0.9, 0.1],  # text 1: rank 0
            [0.4, 0.5],
        ]
    )  # text 2: rank 0
    i2t_rank, t2i_rank = retrieval_ranks(i2t, t2i, txt2img)
    assert i2t_rank.tolist() == [0, 2] and t2i_rank.tolist() == [1, 0, 0]
    m = evaluate(i2t, t2i, txt2img)
    assert m['txt_r1'] == 50.0 and m['txt_r5'] == 100.0 and m['txt_r10'] == 100.0
    assert m['img_r1'] == pytest.approx(200 / 3) and m['img_r5'] == 100.0
    assert m['txt_r_mean'] == pytest.approx(250 / 3)
    assert m['img_r_mean'] == pytest.approx((200 / 3 + 200) / 3)
    assert m['r_mean'] == pytest.approx((m['txt_r_mean'] + m['img_r_mean']) / 2)


def test_matches_official_itm_eval():
    rng = np.random.default_rng(0)
    n_img, per = 30, 5
    txt2img = np.repeat(np.arange(n_img), per)
    img2txt = [list(range(i * per, (i + 1) * per)) for i in range(n_img)]
    base = rng.normal(size=(n_img, n_img * per)).astype(np.float32)
    base[txt2img, np.arange(n_img * per)] += 1.5  # better than chance, not perfect
    i2t, t2i = base, (base + 0.3 * rng.normal(size=base.shape)).T.astype(np.float32)
    ours = evaluate(torch.from_numpy(i2t), torch.from_numpy(t2i.copy()), txt2img)
    ref = official_itm_eval(i2t, t2i, txt2img, img2txt)
    assert 0 < ref['txt_r1'] < 100 and 0 < ref['img_r1'] < 100
    assert ours == pytest.approx(ref)


def test_bad_shapes():
    with pytest.raises(ValueError, match='shapes'):
        retrieval_ranks(torch.zeros(2, 3), torch.zeros(2, 3), [0, 0, 1])
