"""inference_model for visual grounding: boxes in the given image's pixels, drawable as PNG."""

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from blip_plugin import inference_model
from blip_plugin.models import BlipGrounding
from blip_plugin.visualization.draw import draw_box_and_text

WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'red', 'blue', 'circle', 'square']
TEST_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32), interpolation='bicubic', backend='pillow'),
    dict(type='BlipCleanCaption', keys='text', max_words=30),
    dict(
        type='PackInputs',
        algorithm_keys=['text', 'gt_bboxes', 'scale_factor'],
        meta_keys=['image_id'],  # scale_factor is an algorithm key here
    ),
]


@pytest.fixture(scope='module')
def model(tmp_path_factory) -> BlipGrounding:
    vocab = tmp_path_factory.mktemp('grounding_api_vocab')
    (vocab / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    torch.manual_seed(0)
    med = dict(vocab_size=None, hidden_size=32, num_layers=2, num_heads=2)
    med.update(intermediate_size=64, max_position_embeddings=64, dropout=0.0)
    model = BlipGrounding(
        dict(type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32),
        med,
        dict(name_or_path=str(vocab)),
        num_bins=16,
        data_preprocessor=dict(
            type='ImgDataPreprocessor', mean=[122.8, 116.7, 104.1], std=[68.5, 66.6, 70.3]
        ),
    )
    # as init_model leaves it: the config's test pipeline (its text cleaning is skipped)
    model.cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=TEST_PIPELINE))))
    return model.eval()


def test_box_in_the_given_image_pixels(model: BlipGrounding) -> None:
    image = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)  # H 48, W 80
    out = inference_model(model, image, 'The RED circle!')
    assert out['text'] == 'the red circle'
    box = out['pred_bboxes']
    assert box.shape == (1, 4)
    x1, y1, x2, y2 = box[0].tolist()
    assert 0 <= x1 <= x2 <= 80 and 0 <= y1 <= y2 <= 48
    # the same as predict on the resized input, scaled back by (80 / 32, 48 / 32)
    pixels = torch.as_tensor(np.array(Image.fromarray(image).resize((32, 32), Image.BICUBIC)))
    data = model.data_preprocessor(dict(inputs=[pixels.permute(2, 0, 1)]), False)
    from mmpretrain.structures import DataSample

    sample = DataSample(text='the red circle', scale_factor=(32 / 80, 32 / 48))
    expected = model.predict(data['inputs'], [sample])[0].pred_bboxes
    torch.testing.assert_close(box, expected)


def test_one_text_per_image_and_errors(model: BlipGrounding) -> None:
    images = [np.zeros((32, 32, 3), np.uint8), np.full((40, 20, 3), 200, np.uint8)]
    outs = inference_model(model, images, ['the red circle', 'the blue square'], batch_size=1)
    assert [o['text'] for o in outs] == ['the red circle', 'the blue square']
    assert outs[1]['pred_bboxes'][0, 2] <= 20 and outs[1]['pred_bboxes'][0, 3] <= 40
    with pytest.raises(ValueError, match='1 expressions for 2 images'):
        inference_model(model, images, ['the red circle'])


def test_result_is_drawn_as_png(model: BlipGrounding, tmp_path: Path) -> None:
    image = np.full((40, 60, 3), 255, np.uint8)
    out = inference_model(model, image, 'the blue square')
    png = tmp_path / 'vis' / 'grounding.png'
    drawn = draw_box_and_text(image[..., ::-1], png, box=out['pred_bboxes'][0], text=out['text'])
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with Image.open(png) as img:
        assert img.size == (60, 40)
    x1, y1, x2, y2 = (int(v) for v in out['pred_bboxes'][0].round())
    edge = np.asarray(drawn)[min(max(y1, 0), 39), min(max(x1, 0), 59)]
    assert tuple(edge) == (255, 0, 0) or y1 <= 12  # the text band may cover the top left
