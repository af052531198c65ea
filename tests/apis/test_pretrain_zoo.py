"""The pre-trained models of the zoo (task 'Image-Text Pre-training') have no inferencer, yet
build by name: they are the starting points for fine-tuning."""

import pytest

from blip_plugin import get_model, inference_model, list_models
from blip_plugin.apis import get_model_info

PRETRAINED = [
    'blip-base_pretrain',
    'blip-base_pretrain-14m',
    'blip-base_pretrain-capfilt-l',
    'blip-large_pretrain',
]


def test_pretrained_entries_are_listed_with_their_official_files():
    assert list_models(task='Image-Text Pre-training') == PRETRAINED
    files = [get_model_info(n).weights.rsplit('/', 1)[1] for n in PRETRAINED]
    assert files == [
        'model_base.pth',
        'model_base_14M.pth',
        'model_base_capfilt_large.pth',
        'model_large.pth',
    ]


def test_get_model_builds_a_pretrained_entry_without_an_inferencer(tmp_path):
    vocab = tmp_path / 'vocab.txt'
    vocab.write_text('\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'b']) + '\n')
    small = dict(
        vision_encoder=dict(
            arch=dict(_delete_=True, embed_dim=32, depth=1, num_heads=2), img_size=32
        ),
        med_config=dict(
            vocab_size=None, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64
        ),
        tokenizer=dict(name_or_path=str(tmp_path)),
        embed_dim=16,
        queue_size=8,
    )
    model = get_model('blip-base_pretrain-14m', **small)
    assert type(model).__name__ == 'BlipPretrain'
    assert model.model_info.name == 'blip-base_pretrain-14m'
    with pytest.raises(NotImplementedError, match='no inference is registered for BlipPretrain'):
        inference_model(model, [])
