"""inference_model for visual dialog: candidates ranked per image, the same scores as the
model's own ranking, clear errors for malformed dialog inputs."""

import numpy as np
import pytest
import torch

from blip_plugin import inference_model
from blip_plugin.models import BlipVisDial

CANDIDATES = ['red', 'blue', 'a circle', 'yes', 'no']


@pytest.fixture(scope='module')
def model(shapes_world_root: str) -> BlipVisDial:
    torch.manual_seed(0)
    m = BlipVisDial(
        vision_encoder=dict(
            type='BlipViT', arch=dict(embed_dim=32, depth=1, num_heads=2), img_size=32, patch_size=8
        ),
        med_config=dict(
            vocab_size=None,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            dropout=0.0,
        ),
        tokenizer=dict(name_or_path=f'{shapes_world_root}/tokenizer'),
        max_context_len=40,
        max_answer_len=8,
        max_caption_len=16,
        data_preprocessor=dict(type='ImgDataPreprocessor', bgr_to_rgb=True),
    )
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return m.eval()


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def test_one_image_ranks_the_candidates(model: BlipVisDial) -> None:
    history = [['what shape is on the left?', 'a circle']]
    out = inference_model(
        model,
        _image(0),
        'what color is the shape on the left?',
        CANDIDATES,
        captions='an image with one shape',
        history=history,
    )
    assert sorted(out['ranked_answers']) == sorted(CANDIDATES)
    assert out['pred_answer'] == out['ranked_answers'][0]
    assert out['scores'] == sorted(out['scores'], reverse=True)
    # the same scores as the model's own ranking of the preprocessed image
    data = model.data_preprocessor(
        dict(inputs=[torch.from_numpy(_image(0)).permute(2, 0, 1)]), False
    )
    direct = model.rank_answers(
        data['inputs'],
        'an image with one shape',
        history,
        'what color is the shape on the left?',
        CANDIDATES,
    )
    expected = sorted(direct.tolist(), reverse=True)
    np.testing.assert_allclose(out['scores'], expected, atol=1e-5)


def test_a_list_of_images_with_their_own_candidates(model: BlipVisDial) -> None:
    out = inference_model(
        model,
        [_image(1), _image(2)],
        ['is the shape small?', 'what color is it?'],
        [['yes', 'no'], ['red', 'blue', 'green']],
        captions=['an image', 'a picture'],
        batch_size=1,
    )
    assert [len(o['ranked_answers']) for o in out] == [2, 3]


def test_malformed_inputs_fail_in_one_sentence(model: BlipVisDial) -> None:
    with pytest.raises(ValueError, match='question'):
        inference_model(model, [_image(0), _image(1)], ['a?'], CANDIDATES)
    with pytest.raises(ValueError, match='non-empty list of str'):
        inference_model(model, _image(0), 'a?', [])
    with pytest.raises(ValueError, match='pairs'):
        inference_model(model, _image(0), 'a?', CANDIDATES, history=[['q']])
    with pytest.raises(ValueError, match='one caption'):
        inference_model(model, _image(0), 'a?', CANDIDATES, captions=['a', 'b'])
