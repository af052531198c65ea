"""inference_model for VQA: one question for all images, or one per image."""

import numpy as np
import pytest
import torch

from blip_plugin import inference_model
from blip_plugin.models import BlipVQA

WORDS = [
    '[PAD]',
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    'what',
    'colour',
    'is',
    'the',
    'shape',
    'how',
    'many',
    'red',
    'blue',
    'one',
    'two',
    'yes',
    'no',
    '?',
]
ANSWERS = ['red', 'blue', 'one', 'two', 'yes', 'no']


@pytest.fixture(scope='module')
def model(tmp_path_factory) -> BlipVQA:
    vocab = tmp_path_factory.mktemp('vqa_api_vocab')
    (vocab / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    torch.manual_seed(0)
    med = dict(
        vocab_size=None,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        dropout=0.0,
    )
    m = BlipVQA(
        vision_encoder=dict(
            type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8
        ),
        med_config=med,
        tokenizer=dict(name_or_path=str(vocab)),
        answer_list=ANSWERS,
        data_preprocessor=dict(type='ImgDataPreprocessor', bgr_to_rgb=True),
    )
    return m.eval()


def test_one_question_for_every_image(model) -> None:
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (40, 40, 3), dtype=np.uint8) for _ in range(3)]
    out = inference_model(model, imgs, 'What colour is the shape?', batch_size=2)
    assert len(out) == 3 and all(o['pred_answer'] in ANSWERS for o in out)
    single = inference_model(model, imgs[1], 'what colour is the shape')
    assert single == out[1]  # batching and question cleaning change nothing
    gen = inference_model(model, imgs[0], 'how many?', method='generate')
    assert isinstance(gen['pred_answer'], str)


def test_question_count_must_fit(model) -> None:
    img = np.zeros((32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match='2 questions for 1 images'):
        inference_model(model, [img], ['a?', 'b?'])
