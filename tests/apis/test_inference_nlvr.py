"""inference_model for NLVR2: one pair or a list of pairs, one statement or one per pair."""

import numpy as np
import pytest
import torch

from blip_plugin import inference_model
from blip_plugin.models import BlipNLVR

WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'both', 'images', 'a', 'red', 'square']


@pytest.fixture(scope='module')
def model(tmp_path_factory) -> BlipNLVR:
    vocab = tmp_path_factory.mktemp('nlvr_api_vocab')
    (vocab / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    torch.manual_seed(0)
    m = BlipNLVR(
        vision_encoder=dict(
            type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8
        ),
        med_config=dict(
            vocab_size=None,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=32,
            dropout=0.0,
        ),
        tokenizer=dict(name_or_path=str(vocab)),
        data_preprocessor=dict(type='ImgDataPreprocessor', bgr_to_rgb=True),
    )
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return m.eval()


def _images(n: int) -> list:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (40, 48, 3), dtype=np.uint8) for _ in range(n)]


def test_pairs_and_statements(model) -> None:
    a, b, c = _images(3)
    out = inference_model(
        model, [(a, b), (b, c), (c, a)], 'Both images: a red square.', batch_size=2
    )
    assert len(out) == 3
    assert all(isinstance(o['pred_label'], bool) and 0 <= o['pred_score'] <= 1 for o in out)
    assert out[0]['pred_label'] == (out[0]['pred_score'] > 0.5)
    single = inference_model(model, (b, c), 'both images a red square')
    assert single['pred_score'] == pytest.approx(out[1]['pred_score'], abs=1e-6)
    swapped = inference_model(model, (c, b), 'both images a red square')
    assert swapped['pred_score'] != pytest.approx(single['pred_score'], abs=1e-6)


def test_bad_pairs_and_counts_are_named(model) -> None:
    a, b = _images(2)
    with pytest.raises(ValueError, match='NLVR2 input 1 must be a pair'):
        inference_model(model, [(a, b), (a,)], 'a red square')
    with pytest.raises(ValueError, match='2 statements for 1 pairs'):
        inference_model(model, [(a, b)], ['a', 'b'])
