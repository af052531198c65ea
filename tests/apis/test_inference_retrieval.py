"""inference_model for retrieval: a list of texts ranked for each image, or one text ranking
the images."""

import numpy as np
import pytest
import torch

from blip_plugin import inference_model
from blip_plugin.apis.pipeline import build_inference_pipeline, iter_batches
from blip_plugin.models import BlipRetrieval

WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
WORDS += 'a the red blue green circle square triangle on left right big small'.split()
TEXTS = ['a red circle', 'the big blue square on the left', 'small green triangle', 'red']

MODEL = dict(
    vision_encoder=dict(
        type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8
    ),
    med_config=dict(
        vocab_size=None,  # sized to the tokenizer
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        dropout=0.0,
    ),
    embed_dim=16,
    queue_size=8,
    max_txt_len=16,
    itm_batch_size=3,  # texts are scored in chunks: exercise more than one
    data_preprocessor=dict(type='ImgDataPreprocessor', bgr_to_rgb=True),
)


@pytest.fixture(scope='module')
def vocab(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('retrieval_api_vocab')
    (path / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    return str(path)


@pytest.fixture(scope='module')
def model(vocab) -> BlipRetrieval:
    torch.manual_seed(0)
    m = BlipRetrieval(tokenizer=dict(name_or_path=vocab), **MODEL)
    with torch.no_grad():  # random BERT init scores every pair alike; spread them out
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return m.eval()


@pytest.fixture(scope='module')
def images() -> list:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (32 + 8 * i, 40, 3), dtype=np.uint8) for i in range(3)]


def pixels(model: BlipRetrieval, images: list) -> torch.Tensor:
    pipeline = build_inference_pipeline(None, model)
    batch = next(iter_batches(images, pipeline, len(images)))
    return model.data_preprocessor(batch, False)['inputs']


def test_texts_are_ranked_for_every_image(model, images) -> None:
    out = inference_model(model, images, TEXTS, batch_size=2)
    assert len(out) == len(images)
    x = pixels(model, images)
    itm = model.itm_score(x, TEXTS * len(images)).view(len(images), len(TEXTS))
    itc = model.itc_similarity(x, TEXTS)
    for i, ranking in enumerate(out):
        assert sorted(r['text'] for r in ranking) == sorted(TEXTS)
        scores = [r['itm_score'] for r in ranking]
        assert scores == sorted(scores, reverse=True)
        for r in ranking:
            j = TEXTS.index(r['text'])
            assert r['itm_score'] == pytest.approx(float(itm[i, j]), abs=1e-5)
            assert r['itc_similarity'] == pytest.approx(float(itc[i, j]), abs=1e-5)
    # the scores differ between images and texts (a ranking that means something)
    assert len({round(r['itm_score'], 4) for ranking in out for r in ranking}) > len(TEXTS)
    one = inference_model(model, images[1], TEXTS)  # one image: its list
    assert [r['text'] for r in one] == [r['text'] for r in out[1]]
    for r, ref in zip(one, out[1]):  # batching changes the last float bits only
        assert r['itm_score'] == pytest.approx(ref['itm_score'], abs=1e-5)
        assert r['itc_similarity'] == pytest.approx(ref['itc_similarity'], abs=1e-5)


def test_one_text_ranks_the_images(model, images) -> None:
    text = 'the big blue square on the left'
    ranking = inference_model(model, images, text, batch_size=2)
    assert sorted(r['image_index'] for r in ranking) == [0, 1, 2]
    scores = [r['itm_score'] for r in ranking]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3
    by_text = inference_model(model, images, TEXTS)  # the same pairs, the other way
    j = TEXTS.index(text)
    for r in ranking:
        pair = next(p for p in by_text[r['image_index']] if p['text'] == TEXTS[j])
        assert r['itm_score'] == pytest.approx(pair['itm_score'], abs=1e-5)
        assert r['itc_similarity'] == pytest.approx(pair['itc_similarity'], abs=1e-5)
    one = inference_model(model, images[0], text)  # one image, one text: one dict
    assert one['image_index'] == 0


def test_bad_texts_are_refused(model, images) -> None:
    with pytest.raises(ValueError, match='non-empty texts'):
        inference_model(model, images, [])
    with pytest.raises(TypeError, match='extra arguments'):
        inference_model(model, images, TEXTS, 'more')


def test_from_a_config_file(tmp_path, vocab, images) -> None:
    """The name/config route: the config's model builds and its task is found."""
    cfg = tmp_path / 'tiny_retrieval.py'
    cfg.write_text(
        "default_scope = 'blip_plugin'\n"
        f'model = dict(type={"BlipRetrieval"!r}, tokenizer=dict(name_or_path={vocab!r}), '
        f'**{MODEL!r})\n'
    )
    out = inference_model(str(cfg), images[:2], TEXTS, checkpoint=False, device='cpu')
    assert [len(r) for r in out] == [len(TEXTS)] * 2
