"""Task-level workloads: split-wide retrieval evaluation (ours vs a transformers loop doing
the official computation), VQA answer ranking and one pre-training step (ours only)."""

import torch
import torch.nn.functional as F
from bench_workloads import Bench, _check, _max_diff, _texts
from mmpretrain.structures import DataSample

__all__ = ['retrieval_eval', 'vqa_rank', 'pretrain_step']

TEXTS_PER_IMAGE = 5  # COCO / Flickr30k


def _hf_retrieval_scores(hf, px, cls_ids, enc_ids, atts, k: int) -> tuple:
    """The official ``evaluation`` (train_retrieval.py) with transformers' modules: ITC
    similarities of all pairs, then for every image its top-k texts and for every text its
    top-k images re-scored by ITM, the image embeddings repeated once per pair."""
    image_embeds = hf.vision_model(pixel_values=px)[0]  # (I, 1+N, D)
    image_feat = F.normalize(hf.vision_proj(image_embeds[:, 0]), dim=-1)
    text_h = hf.text_encoder(input_ids=cls_ids, attention_mask=atts)[0]  # (T, L, H)
    text_feat = F.normalize(hf.text_proj(text_h[:, 0]), dim=-1)
    sims = image_feat @ text_feat.t()  # (I, T)

    def itm(ids, mask, images) -> torch.Tensor:
        ones = torch.ones(images.shape[:2], dtype=torch.long, device=images.device)
        h = hf.text_encoder(
            input_ids=ids,
            attention_mask=mask,
            encoder_hidden_states=images,
            encoder_attention_mask=ones,
        )[0]
        return hf.itm_head(h[:, 0])[:, 1].float()  # (k,)

    i2t = torch.full_like(sims, -100.0)
    for i in range(sims.shape[0]):
        top_sim, top = sims[i].topk(min(k, sims.shape[1]))
        images = image_embeds[i : i + 1].expand(len(top), -1, -1)
        i2t[i, top] = itm(enc_ids[top], atts[top], images) + top_sim
    t2i = torch.full_like(sims.t(), -100.0)
    for t in range(sims.shape[1]):
        top_sim, top = sims[:, t].topk(min(k, sims.shape[0]))
        n = len(top)
        scores = itm(
            enc_ids[t : t + 1].expand(n, -1), atts[t : t + 1].expand(n, -1), image_embeds[top]
        )
        t2i[t, top] = scores + top_sim
    return i2t, t2i


@torch.no_grad()
def retrieval_eval(b: Bench, hf, ours, n_images: int, k: int) -> dict:
    """N images x 5N texts, pixels and strings to the i2t and t2i score matrices: ITC
    similarity of every pair, then ITM re-rank of the top k of every query (official
    ``evaluation``). Ours: :meth:`BlipRetrieval.extract_feat` + ``retrieval_scores``."""
    px = b.pixels(n_images, seed=4)
    texts = _texts(TEXTS_PER_IMAGE * n_images, 20, seed=5)
    samples = [
        DataSample(
            image_idx=i,
            gt_caption=texts[TEXTS_PER_IMAGE * i : TEXTS_PER_IMAGE * (i + 1)],
            text_idx=list(range(TEXTS_PER_IMAGE * i, TEXTS_PER_IMAGE * (i + 1))),
        )
        for i in range(n_images)
    ]
    ours.k_test = k

    def run_ours() -> tuple:
        out = ours.retrieval_scores(ours.extract_feat(px, samples), distributed=False)
        return out['i2t_scores'], out['t2i_scores']

    def run_hf() -> tuple:
        cls_ids, atts = ours.tokenize(texts)  # the same tokenizer and padding as ours
        return _hf_retrieval_scores(hf, px, cls_ids, ours.encoder_ids(cls_ids), atts, k)

    mine, ref = run_ours(), run_hf()
    same_pairs = all(torch.equal(m == -100, r == -100) for m, r in zip(mine, ref))
    d = max(_max_diff(m, r) for m, r in zip(mine, ref))
    _check(b, same_pairs and d < b.tol, f'retrieval scores: same pairs {same_pairs}, diff {d:.2e}')
    n_txt = len(texts)
    return b.time_pair(
        f'retrieval eval {n_images} img x {n_txt} txt, k={k}',
        n_images,
        run_ours,
        run_hf,
        f'same top-k pairs, scores max diff {d:.1e}',
        n_images + n_txt,
    )


@torch.no_grad()
def vqa_rank(b: Bench, vqa, batch: int, n_answers: int, k: int) -> dict:
    """BlipVQA.answer(method='rank') over n candidate answers, the first-token shortlist of
    k re-scored by full likelihood (no transformers equivalent). The candidates are the
    model's own list, tokenized once as in evaluation."""
    px = b.pixels(batch)
    questions = [t + '?' for t in _texts(batch, 10, seed=1)]
    answers = list(dict.fromkeys(_texts(n_answers * 2, 3, seed=2, fewest=1)))[:n_answers]
    if len(answers) < n_answers:
        raise ValueError(f'only {len(answers)} distinct fake answers, {n_answers} wanted')
    vqa.answer_list, vqa._candidates = answers, None

    def run() -> list:
        return vqa.answer(px, questions, method='rank', k=k)

    return b.time_pair(
        f'VQA rank {n_answers} answers, k={k}', batch, run, None, 'no reference', batch
    )


def pretrain_step(b: Bench, model, batch: int) -> dict:
    """ITC + ITM + LM losses forward + backward of one pre-training batch (momentum update
    and queue included; ours only: transformers has no BLIP pre-training)."""
    px = b.pixels(batch, seed=6)
    samples = [DataSample(gt_caption=c) for c in _texts(batch, 15, seed=7)]

    def run() -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        losses = model.loss(px, samples, alpha=0.4)
        total = sum(losses.values())
        total.backward()
        return total.detach()

    loss = run()
    if not torch.isfinite(loss):
        raise AssertionError(f'pre-training loss is {float(loss)}')
    row = b.time_pair(
        'pretrain step (ITC+ITM+LM)', batch, run, None, f'loss {float(loss):.2f}', batch
    )
    model.zero_grad(set_to_none=True)
    return row
