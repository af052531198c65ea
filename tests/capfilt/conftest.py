"""A tiny CapFilt world: 13 small PNG images with web texts, two human pairs, a tiny random
captioner and filter (as modules and as checkpoint files) and a config naming them."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from blip_plugin.models.blip.caption import BlipCaption
from blip_plugin.models.blip.retrieval import BlipRetrieval

WORDS = 'a the red blue green circle square triangle on left right of big small picture'.split()
COLOURS = {'red': (220, 30, 30), 'blue': (30, 30, 220), 'green': (30, 200, 30)}
NUM_WEB = 13

TINY_VIT = dict(
    type='BlipViT', arch=dict(embed_dim=32, depth=1, num_heads=2), img_size=32, patch_size=8
)
TINY_MED = dict(
    vocab_size=None,
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    intermediate_size=64,
    max_position_embeddings=64,
    dropout=0.0,
)
PREPROCESSOR = dict(type='ImgDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3, bgr_to_rgb=True)


def model_cfgs(vocab: str) -> dict:
    return dict(
        captioner=dict(
            type='BlipCaption',
            vision_encoder=TINY_VIT,
            text_decoder=dict(type='MEDDecoder', config=TINY_MED),
            tokenizer=dict(name_or_path=vocab),
            max_txt_len=20,
            data_preprocessor=PREPROCESSOR,
        ),
        filter=dict(
            type='BlipRetrieval',
            vision_encoder=TINY_VIT,
            med_config=dict(TINY_MED, vocab_size=len(WORDS) + 7),
            tokenizer=dict(name_or_path=vocab),
            embed_dim=16,
            queue_size=8,
            max_txt_len=20,
            data_preprocessor=PREPROCESSOR,
        ),
    )


def settings(**kwargs) -> dict:
    """Fast CapFilt settings: shards of 4 (13 images -> 4 shards, the last one short)."""
    base = dict(
        num_captions=2,
        strategy='sample',
        top_p=0.9,
        max_length=10,
        min_length=6,
        shard_size=4,
        batch_size=3,
        num_workers=0,
        seed=7,
    )
    base.update(kwargs)
    return base


def build_models(vocab: str) -> tuple:
    """The tiny captioner and filter, identical on every call (and in every process)."""
    cfgs = model_cfgs(vocab)
    models = []
    for cls, key in ((BlipCaption, 'captioner'), (BlipRetrieval, 'filter')):
        torch.manual_seed(0)
        cfg = dict(cfgs[key])
        cfg.pop('type')
        model = cls(**cfg)
        with torch.no_grad():  # a random BERT init scores every pair alike: spread them
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.3)
        models.append(model.eval())
    return tuple(models)


def _draw(path: str, colour: str, n: int) -> None:
    img = np.full((32, 32, 3), 240, np.uint8)
    x = 4 + (n * 5) % 16
    img[8:24, x : x + 12] = COLOURS[colour]
    Image.fromarray(img).save(path)


@pytest.fixture(scope='session')
def world(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp('capfilt_world')
    vocab = root / 'vocab'
    vocab.mkdir()
    (vocab / 'vocab.txt').write_text(
        '\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + WORDS) + '\n'
    )
    (root / 'images').mkdir()
    web, truth = [], []
    names = list(COLOURS)
    for n in range(NUM_WEB):
        colour = names[n % 3]
        _draw(str(root / 'images' / f'{n:02d}.png'), colour, n)
        noisy = n % 4 == 1
        said = names[(n + 1) % 3] if noisy else colour
        web.append(dict(image=f'images/{n:02d}.png', caption=f'a {said} square on the left'))
        truth.append(
            dict(image=web[-1]['image'], is_noisy=noisy, noise='wrong colour' if noisy else 'clean')
        )
    (root / 'web.json').write_text(json.dumps(web))
    (root / 'truth.json').write_text(json.dumps(truth))
    human = [
        dict(image='coco/1.jpg', caption='a big red circle'),
        dict(image='coco/2.jpg', caption='a small blue square'),
    ]
    (root / 'human.json').write_text(json.dumps(human))

    captioner, capfilter = build_models(str(vocab))
    torch.save({'state_dict': captioner.state_dict()}, str(root / 'captioner.pth'))
    torch.save({'state_dict': capfilter.state_dict()}, str(root / 'filter.pth'))
    cfgs = model_cfgs(str(vocab))
    config = root / 'capfilt_tiny.py'
    config.write_text(
        f'captioner = {cfgs["captioner"]!r}\n'
        f'filter = {cfgs["filter"]!r}\n'
        f'captioner_load_from = {str(root / "captioner.pth")!r}\n'
        f'filter_load_from = {str(root / "filter.pth")!r}\n'
        f'capfilt = {settings(image_root=str(root))!r}\n'
        "test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32)),"
        " dict(type='PackInputs')]\n"
    )
    return SimpleNamespace(
        root=str(root),
        vocab=str(vocab),
        web=str(root / 'web.json'),
        truth=str(root / 'truth.json'),
        human=str(root / 'human.json'),
        config=str(config),
        captioner=captioner,
        filter=capfilter,
    )
