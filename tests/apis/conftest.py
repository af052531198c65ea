"""A tiny BLIP captioner written to disk: tokenizer, config, checkpoint, images.

Shared by the api tests as the session fixture ``tiny``. Sizes follow STYLE.md (2 layers,
32-dim, 32 px); the tokenizer is a hand-written WordPiece vocabulary, so nothing is downloaded.
"""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

WORDS = [
    '[PAD]',
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    'a',
    'picture',
    'of',
    'red',
    'blue',
    'green',
    'square',
    'circle',
    'triangle',
    'on',
    'the',
    'left',
    'right',
    'and',
    'small',
    'big',
    'shape',
    'with',
    'two',
    'three',
    '.',
]
VOCAB = len(WORDS) + 2  # + [DEC] and [ENC], added by load_tokenizer

CONFIG = """
default_scope = 'blip_plugin'
model = dict(
    type='BlipCaption',
    vision_encoder=dict(type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2),
                        img_size=32, patch_size=8),
    text_decoder=dict(type='MEDDecoder', config=dict(
        vocab_size={vocab}, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
        max_position_embeddings=64, dropout=0.0)),
    tokenizer=dict(name_or_path={tokenizer!r}),
    generation=dict(strategy='beam', num_beams=2, max_length=12, min_length=6),
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[122.8, 116.7, 104.1],
                           std=[68.5, 66.6, 70.3], bgr_to_rgb=True),
)
{extra}
"""

TEST_PIPELINE = """
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', meta_keys=['image_id']),
]
"""


def write_tokenizer(root: Path) -> Path:
    path = root / 'tokenizer'
    path.mkdir()
    (path / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    return path


def write_config(root: Path, tokenizer: Path, name: str = 'tiny.py', extra: str = '') -> Path:
    path = root / name
    path.write_text(CONFIG.format(vocab=VOCAB, tokenizer=str(tokenizer), extra=extra))
    return path


def write_images(root: Path, n: int = 3, seed: int = 0) -> list:
    """``n`` random RGB PNGs of different sizes (lossless, so array and file inputs agree)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        h, w = 40 + 8 * i, 48 - 4 * i
        path = root / f'img{i}.png'
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture(scope='session')
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Paths of a tiny caption config (default pipeline), the same with a config test
    pipeline, a random checkpoint of it in this plugin's format, and three images."""
    from blip_plugin.apis import init_model

    root = tmp_path_factory.mktemp('tiny_blip')
    tokenizer = write_tokenizer(root)
    config = write_config(root, tokenizer)
    config_pipeline = write_config(root, tokenizer, 'tiny_pipeline.py', TEST_PIPELINE)
    torch.manual_seed(0)
    model = init_model(config)
    with torch.no_grad():  # move every weight off its init, so a lost weight shows
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    checkpoint = root / 'tiny.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    return SimpleNamespace(
        root=root,
        tokenizer=tokenizer,
        config=str(config),
        config_pipeline=str(config_pipeline),
        checkpoint=str(checkpoint),
        images=write_images(root),
        vocab=VOCAB,
    )
