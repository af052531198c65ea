"""Weight files that must not load, and how they are refused (blip_plugin.models.weights):
other architectures, missing / unexpected / mis-shaped layers, missing files, pickles that are
more than weights, tied tensors that disagree, a task model given too little."""

import argparse

import pytest
import torch

from blip_plugin.models.weights import load_blip_weights, read_state_dict

from .weight_files import (
    DIM,
    VOCAB,
    NotATensor,
    RetrievalParts,
    caption_model,
    official_caption,
    official_pretrain,
    pretrain_extras,
    task_model,
)


def test_model_that_needs_the_extra_parts_fails_on_a_caption_checkpoint(tmp_path):
    path = str(tmp_path / 'model_base_caption.pth')
    torch.save({'model': official_caption()}, path)
    with pytest.raises(ValueError, match='RetrievalParts') as info:
        load_blip_weights(RetrievalParts(), path)
    msg = str(info.value)
    assert 'missing keys' in msg and "'text_encoder.embeddings.word.weight'" in msg
    assert 'unexpected keys' in msg and "'text_decoder." in msg
    # with the parts it needs (and no decoder) it loads
    sd = {**official_caption(), **pretrain_extras()}
    sd = {
        k: v
        for k, v in sd.items()
        if not k.startswith(
            (
                'text_decoder',
                'text_encoder_m',
                'visual_encoder_m',
                'vision_proj_m',
                'text_proj_m',
                'temp',
                'image_q',
                'text_q',
                'queue',
            )
        )
    }
    load_blip_weights(RetrievalParts(), sd)


def test_resnet_checkpoint_is_refused(tmp_path, vocab_dir):
    path = str(tmp_path / 'resnet50.pth')
    torch.save(
        {
            'state_dict': {
                'conv1.weight': torch.zeros(64, 3, 7, 7),
                'layer1.0.conv1.weight': torch.zeros(64, 64, 1, 1),
                'fc.weight': torch.zeros(1000, 2048),
            }
        },
        path,
    )
    with pytest.raises(ValueError, match='not a BLIP state dict.*conv1.weight'):
        load_blip_weights(caption_model(vocab_dir), path)


def test_missing_and_unexpected_layers_are_named(tmp_path, vocab_dir):
    sd = official_caption()
    sd = {k: v for k, v in sd.items() if 'encoder.layer.1.' not in k}  # a decoder layer short
    sd['visual_encoder.blocks.7.norm1.weight'] = torch.ones(DIM)  # a ViT layer too many
    path = str(tmp_path / 'broken_caption.pth')
    torch.save({'model': sd}, path)
    with pytest.raises(ValueError) as info:
        load_blip_weights(caption_model(vocab_dir), path)
    msg = str(info.value)
    assert path in msg and 'BlipCaption' in msg
    assert (
        '26 missing keys' in msg and "'text_decoder.transformer.layers.1.self_attn.q.weight'" in msg
    )
    assert '1 unexpected keys' in msg and "'vision_encoder.blocks.7.norm1.weight'" in msg
    result = load_blip_weights(caption_model(vocab_dir), path, strict=False)
    assert len(result['missing']) == 26 and result['unexpected'] == [
        'vision_encoder.blocks.7.norm1.weight'
    ]


def test_shape_mismatch_is_named(tmp_path, vocab_dir):
    sd = official_caption()
    sd['text_decoder.cls.predictions.transform.dense.weight'] = torch.zeros(DIM, DIM + 1)
    with pytest.raises(ValueError, match='size mismatch for text_decoder.lm_head.dense.weight'):
        load_blip_weights(caption_model(vocab_dir), sd)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        read_state_dict(str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='model directory'):
        read_state_dict(str(tmp_path))


@pytest.mark.parametrize('extra', [NotATensor(), argparse.Namespace(lr=0.1)])
def test_pickled_objects_are_refused_with_the_way_out(tmp_path, vocab_dir, extra):
    path = str(tmp_path / 'legacy.pth')
    torch.save({'model': official_caption(), 'args': extra}, path)
    with pytest.raises(ValueError) as info:
        load_blip_weights(caption_model(vocab_dir), path)
    msg = str(info.value)
    assert 'weights only' in msg and 'blip_to_plugin.py' in msg and '--trust-pickle' in msg
    assert read_state_dict(path, trust_pickle=True)  # the converter's explicit way


def test_state_dict_with_non_tensors_is_refused(tmp_path):
    path = str(tmp_path / 'odd.pth')
    torch.save({'model': {'visual_encoder.cls_token': torch.zeros(1), 'epoch': 3}}, path)
    with pytest.raises(ValueError, match=r"not tensors, e.g. \['epoch'\]"):
        read_state_dict(path)


def test_lm_head_that_differs_from_the_embeddings_is_an_error(vocab_dir):
    sd = official_caption()
    sd['text_decoder.cls.predictions.decoder.weight'] = torch.randn(VOCAB, DIM)
    with pytest.raises(ValueError, match='tied parameter.*different values'):
        load_blip_weights(caption_model(vocab_dir), sd)


def test_caption_checkpoint_into_retrieval_names_what_is_missing(tmp_path, vocab_dir):
    with pytest.raises(ValueError) as info:
        load_blip_weights(task_model('retrieval', 'BlipRetrieval', vocab_dir), official_caption())
    msg = str(info.value)
    assert 'BlipRetrieval' in msg and "'text_encoder.embeddings.word.weight'" in msg
    assert "'vision_proj': 2" in msg and "'text_encoder_m': " in msg


def test_shared_encoder_decoder_weights_must_agree(vocab_dir):
    sd = official_pretrain()
    sd['text_encoder.encoder.layer.0.crossattention.self.key.weight'] = torch.randn(DIM, DIM)
    with pytest.raises(ValueError, match='tied parameter'):
        load_blip_weights(task_model('pretrain', 'BlipPretrain', vocab_dir), sd)
