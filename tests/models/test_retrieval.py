"""BLIP retrieval: training targets with same-image positives, the plain-typed API, the
grouped ITM re-rank against the official evaluation loop, and a Runner test of the split."""

import json

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

import blip_plugin.models.blip.retrieval as retrieval_module
from blip_plugin.datasets.retrieval import KarpathyRetrieval
from blip_plugin.evaluation.retrieval import BlipRetrievalRecall  # noqa: F401 (registers)
from blip_plugin.models.blip.retrieval import BlipRetrieval
from blip_plugin.models.weights import load_blip_weights

WORDS = (
    'a an the red blue green circle square triangle on left right of above below big small'
).split()
TEXTS = [
    'a red circle',
    'the red circle on the left',
    'a small green triangle',
    'big blue square',
    'a blue square above a circle',
    'the small triangle',
    'green triangle below the square',
]
TXT2IMG = [0, 0, 1, 2, 2, 1, 1]


@pytest.fixture(scope='module')
def vocab(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('vocab')
    (path / 'vocab.txt').write_text(
        '\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + WORDS) + '\n'
    )
    return str(path)


def model_cfg(vocab: str, **kwargs) -> dict:
    return dict(
        type='BlipRetrieval',
        vision_encoder=dict(
            type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8
        ),
        med_config=dict(
            vocab_size=32,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            dropout=0.0,
        ),
        tokenizer=dict(name_or_path=vocab),
        **dict(dict(embed_dim=16, queue_size=8, max_txt_len=12, itm_seed=0), **kwargs),
    )


def tiny(vocab: str, **kwargs) -> BlipRetrieval:
    torch.manual_seed(0)
    cfg = model_cfg(vocab, **kwargs)
    cfg.pop('type')
    model = BlipRetrieval(**cfg)
    with torch.no_grad():  # random BERT init scores every pair alike; spread them out
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def images(n: int) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_loss_counts_texts_of_the_same_image_as_positives(vocab, monkeypatch):
    model = tiny(vocab).train()
    seen = {}

    def spy(*args):
        seen['targets'] = args[7]
        return retrieval_module.itc_loss.__wrapped__(*args)

    spy.__wrapped__ = retrieval_module.itc_loss
    monkeypatch.setattr(retrieval_module, 'itc_loss', spy)
    samples = [DataSample(gt_caption=t, image_idx=i) for t, i in zip(TEXTS[:4], [0, 0, 1, 2])]
    out = model.loss(images(4), samples, alpha=0.4)
    assert set(out) == {'loss_itc', 'loss_itm'} and all(torch.isfinite(v) for v in out.values())
    targets = seen['targets']  # (4, 4 + 8): batch columns, then the (empty) queue
    assert targets[0, :4].tolist() == [0.5, 0.5, 0, 0] and targets[2, :4].tolist() == [0, 0, 1, 0]
    assert (targets[:, 4:] == 0).all()
    assert model.idx_queue[0, :4].tolist() == [0, 0, 1, 2] and int(model.ptr_queue) == 4
    sum(out.values()).backward()
    assert model.temp.grad is not None and model.vision_encoder_m.cls_token.grad is None


@pytest.mark.parametrize('size', [4, 12])
def test_queues_of_another_length_fit_the_configured_size(vocab, size):
    """A checkpoint trained with another queue_size loads: its queues are cut to this model's
    8 columns (or fill its first ones), the pointer restarts."""
    src = tiny(vocab, queue_size=size)
    with torch.no_grad():
        src.image_queue.copy_(torch.arange(16 * size, dtype=torch.float).view(16, size))
        src.idx_queue.copy_(torch.arange(size).view(1, size))
        src.ptr_queue.fill_(size // 2)
    model = tiny(vocab)  # queue_size 8
    initial = model.text_queue.clone()
    load_blip_weights(model, src.state_dict())
    k = min(size, 8)
    assert model.image_queue.shape == (16, 8) and model.queue_size == 8
    assert torch.equal(model.image_queue[:, :k], src.image_queue[:, :k])
    assert torch.equal(model.text_queue[:, :k], src.text_queue[:, :k])
    assert torch.equal(model.text_queue[:, k:], initial[:, k:])
    assert model.idx_queue[0, :k].tolist() == list(range(k))
    assert model.ptr_queue.item() == 0
    assert torch.equal(model.temp, src.temp)  # the rest loads as usual


def test_plain_api(vocab):
    model = tiny(vocab)
    img = images(3)
    feats = model.encode_image(img)
    texts = model.encode_text(TEXTS)
    assert feats.shape == (3, 16) and texts.shape == (7, 16)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(model.itc_similarity(img, TEXTS), feats @ texts.t())
    # r consecutive texts per image share one image encoding: same as repeating the image
    grouped = model.itm_score(img, TEXTS[:6])  # 2 texts per image
    repeated = model.itm_score(img.repeat_interleave(2, 0), TEXTS[:6])
    assert grouped.shape == (6,) and ((grouped >= 0) & (grouped <= 1)).all()
    torch.testing.assert_close(grouped, repeated, rtol=1e-5, atol=1e-6)


def eval_samples() -> list:
    out = []
    for i in range(3):
        ids = [t for t, j in enumerate(TXT2IMG) if j == i]
        out.append(DataSample(image_idx=i, text_idx=ids, gt_caption=[TEXTS[t] for t in ids]))
    return out


def official_scores(model: BlipRetrieval, img: torch.Tensor, k: int) -> tuple:
    """train_retrieval.py ``evaluation`` with this model's parts (one rank)."""
    image_embeds, image_feat = model.image_features(img)
    ids, atts = model.tokenize(TEXTS)
    text_feat = model.text_features(ids, atts)
    ids = model.encoder_ids(ids)
    sims = image_feat @ text_feat.t()
    i2t = torch.full((3, 7), -100.0)
    for i, row in enumerate(sims):
        top_sim, top = row.topk(k)
        h = model.text_encoder(ids[top], atts[top], image_embeds[i].repeat(k, 1, 1))
        i2t[i, top] = model.itm_head(h[:, 0])[:, 1] + top_sim
    t2i = torch.full((7, 3), -100.0)
    for t, row in enumerate(sims.t()):
        top_sim, top = row.topk(min(k, 3))
        h = model.text_encoder(
            ids[t].repeat(len(top), 1), atts[t].repeat(len(top), 1), image_embeds[top]
        )
        t2i[t, top] = model.itm_head(h[:, 0])[:, 1] + top_sim
    return i2t, t2i


@torch.no_grad()
def test_grouped_rerank_equals_official_evaluation(vocab):
    model = tiny(vocab, k_test=4, itm_batch_size=2)  # chunks of 2 texts per ITM call
    img = images(3)
    scores = model.retrieval_scores(model.extract_feat(img, eval_samples()))
    ref_i2t, ref_t2i = official_scores(model, img, 4)
    torch.testing.assert_close(scores['i2t_scores'], ref_i2t, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(scores['t2i_scores'], ref_t2i, rtol=1e-5, atol=1e-5)
    assert scores['txt2img'].tolist() == TXT2IMG
    assert scores['img2txt'] == [[0, 1], [2, 5, 6], [3, 4]]
    assert (scores['i2t_scores'] > -100).sum(1).tolist() == [4, 4, 4]


def write_split(root) -> None:
    rng = np.random.default_rng(0)
    (root / 'images').mkdir()
    from PIL import Image

    anns = []
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
            root / 'images' / f'{i}.png'
        )
        anns.append(
            dict(
                image=f'{i}.png',
                caption=[TEXTS[t].upper() + '.' for t, j in enumerate(TXT2IMG) if j == i],
            )
        )
    (root / 'test.json').write_text(json.dumps(anns))
    train = [
        dict(image=a['image'], caption=c, image_id=f'img{n}')
        for n, a in enumerate(anns)
        for c in a['caption']
    ]
    (root / 'train.json').write_text(json.dumps(train))


def test_datasets(tmp_path):
    write_split(tmp_path)
    test = KarpathyRetrieval(
        'test.json', data_root=str(tmp_path), data_prefix=dict(img_path='images'), test_mode=True
    )
    assert len(test) == 3 and test.num_texts == 7 and test.texts[0] == 'a red circle'
    assert test.txt2img == [0, 0, 1, 1, 1, 2, 2] and test.img2txt[1] == [2, 3, 4]
    item = test.get_data_info(1)
    assert item['text_idx'] == [2, 3, 4] and item['gt_caption'][0] == 'a small green triangle'
    train = KarpathyRetrieval(
        'train.json', data_root=str(tmp_path), data_prefix=dict(img_path='images')
    )
    assert len(train) == 7 and train.num_images == 3
    assert [train.get_data_info(n)['image_idx'] for n in range(7)] == [0, 0, 1, 1, 1, 2, 2]


def test_runner_evaluates_the_split(vocab, tmp_path):
    from mmengine.runner import Runner

    write_split(tmp_path)
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(32, 32)),
        dict(type='PackInputs', algorithm_keys=['gt_caption', 'image_idx', 'text_idx']),
    ]
    model = model_cfg(
        vocab,
        k_test=2,
        data_preprocessor=dict(
            type='ImgDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
        ),
    )
    runner = Runner(
        model=model,
        work_dir=str(tmp_path / 'work'),
        default_scope='blip_plugin',
        test_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='KarpathyRetrieval',
                ann_file='test.json',
                data_root=str(tmp_path),
                data_prefix=dict(img_path='images'),
                test_mode=True,
                pipeline=pipeline,
            ),
        ),
        test_cfg=dict(type='BlipRetrievalTestLoop'),
        test_evaluator=dict(type='BlipRetrievalRecall'),
    )
    metrics = runner.test()
    assert set(metrics) >= {'retrieval/txt_r1', 'retrieval/img_r10', 'retrieval/r_mean'}
    assert metrics['retrieval/txt_r10'] == 100.0  # 3 images, 7 texts: all within top 10
