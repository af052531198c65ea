"""Loading weight files of every format into models (blip_plugin.models.weights): the official
caption and pre-training layouts, Hugging Face folders and ``.bin`` files, another resolution,
the tied LM head, wrappers and DDP prefixes. Checkpoints: tests/models/weight_files.py."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from torch import nn
from transformers import BlipConfig, BlipForConditionalGeneration

from blip_plugin.models.weights import load_blip_weights

from .weight_files import (
    DEPTH,
    DIM,
    HEADS,
    PATCH,
    TEXT,
    VOCAB,
    caption_model,
    jitter,
    official_caption,
    official_pretrain,
    pretrain_extras,
    task_model,
    weights_equal,
)


def test_pretrain_checkpoint_into_caption_names_unused_parts(tmp_path, vocab_dir, warnings_seen):
    sd = {**official_caption(), **pretrain_extras()}
    path = str(tmp_path / 'model_base.pth')
    torch.save({'model': sd}, path)
    model = caption_model(vocab_dir)
    result = load_blip_weights(model, path)
    assert result['format'] == 'official' and not result['missing']
    assert any('text_encoder' in k for k in result['unused'])
    assert 'ptr_queue' in result['unused'] and 'vision_encoder_m.norm.weight' in result['unused']
    warning = next(w for w in warnings_seen if 'does not use' in w)
    for part in (
        'text_encoder',
        'text_encoder_m',
        'vision_encoder_m',
        'itm_head',
        'temp',
        'image_queue',
        'ptr_queue',
        'vision_proj',
    ):
        assert f"'{part}'" in warning
    weights_equal(
        model,
        sd,
        {
            'vision_encoder.blocks.1.mlp.fc2.bias': 'visual_encoder.blocks.1.mlp.fc2.bias',
            'text_decoder.transformer.layers.1.cross_attn.v.weight': 'text_decoder.bert.encoder.layer.1.crossattention.self.value.weight',
        },
    )


def _hf_caption() -> BlipForConditionalGeneration:
    cfg = BlipConfig(
        text_config=TEXT,
        vision_config=dict(
            hidden_size=DIM,
            intermediate_size=4 * DIM,
            num_hidden_layers=DEPTH,
            num_attention_heads=HEADS,
            image_size=32,
            patch_size=PATCH,
            layer_norm_eps=1e-6,
        ),
    )
    return jitter(BlipForConditionalGeneration(cfg), 3)


def test_hf_save_pretrained_and_bin_load_with_parity(tmp_path, vocab_dir):
    hf = _hf_caption()
    hf.save_pretrained(str(tmp_path / 'hf'))  # safetensors, tied keys left out
    (tmp_path / 'bin').mkdir()
    torch.save(hf.state_dict(), str(tmp_path / 'bin' / 'pytorch_model.bin'))

    model = caption_model(vocab_dir)
    assert load_blip_weights(model, str(tmp_path / 'hf'))['format'] == 'hf'
    images = torch.randn(2, 3, 32, 32)
    ids = torch.randint(4, VOCAB, (2, 6))
    with torch.no_grad():
        ref = hf.vision_model(pixel_values=images).last_hidden_state
        torch.testing.assert_close(model.vision_encoder(images), ref, atol=1e-5, rtol=0)
        ref_logits = hf.text_decoder(input_ids=ids, encoder_hidden_states=ref).logits
        torch.testing.assert_close(
            model.text_decoder(ids, image_embeds=ref), ref_logits, atol=1e-4, rtol=0
        )

    for source in (str(tmp_path / 'bin'), str(tmp_path / 'bin' / 'pytorch_model.bin')):
        other = caption_model(vocab_dir)
        load_blip_weights(other, source)
        for k, v in model.state_dict().items():
            assert torch.equal(other.state_dict()[k], v), k


def test_224_checkpoint_into_384_model_resizes_pos_embed(tmp_path, vocab_dir):
    # 224 -> 384 px at patch 16 is a 14 -> 24 grid; 56 -> 96 px at patch 8 is 7 -> 12.
    sd = official_caption(img=56)
    path = str(tmp_path / 'model_base_224.pth')
    torch.save({'model': sd}, path)
    model = caption_model(vocab_dir, img=96)
    load_blip_weights(model, path)
    old = sd['visual_encoder.pos_embed']  # (1, 1 + 49, D)
    grid = old[:, 1:].reshape(1, 7, 7, DIM).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(12, 12), mode='bicubic', align_corners=False)
    expected = torch.cat([old[:, :1], grid.permute(0, 2, 3, 1).reshape(1, 144, DIM)], dim=1)
    torch.testing.assert_close(model.vision_encoder.pos_embed.data, expected)


def test_lm_head_without_its_matrix_loads_tied(vocab_dir):
    sd = official_caption()
    del sd['text_decoder.cls.predictions.decoder.weight']
    model = caption_model(vocab_dir)
    assert not load_blip_weights(model, sd)['missing']
    head = model.text_decoder.lm_head.decoder.weight
    assert head is model.text_decoder.transformer.embeddings.word.weight
    assert torch.equal(head, sd['text_decoder.bert.embeddings.word_embeddings.weight'])


def test_model_wrapper_is_unwrapped(vocab_dir):
    from mmengine.model import MMDistributedDataParallel

    model = caption_model(vocab_dir)
    wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    nn.Module.__init__(wrapper)
    wrapper.module = model
    sd = official_caption()
    load_blip_weights(wrapper, sd)
    assert torch.equal(model.vision_encoder.cls_token, sd['visual_encoder.cls_token'])


def test_pretrain_checkpoint_into_pretrain_and_retrieval(tmp_path, vocab_dir):
    path = str(tmp_path / 'model_base.pth')
    sd = official_pretrain()
    torch.save({'model': sd}, path)
    pretrain = task_model('pretrain', 'BlipPretrain', vocab_dir)
    result = load_blip_weights(pretrain, path)
    assert not (result['missing'] or result['unexpected'] or result['unused'])
    assert torch.equal(pretrain.state_dict()['ptr_queue'], sd['queue_ptr'])
    retrieval = task_model('retrieval', 'BlipRetrieval', vocab_dir)
    result = load_blip_weights(retrieval, path)
    assert {k.split('.')[0] for k in result['unused']} == {'text_decoder'}
    weights_equal(
        retrieval,
        sd,
        {
            'text_encoder_m.layers.0.cross_attn.k.bias': 'text_encoder_m.encoder.layer.0.crossattention.self.key.bias',
            'image_queue': 'image_queue',
        },
    )


def test_checkpoint_dicts_and_ddp_prefixes_are_unwrapped(vocab_dir):
    sd = official_caption()
    ddp = {'state_dict': {f'module.{k}': v for k, v in sd.items()}, 'meta': {'epoch': 3}}
    model = caption_model(vocab_dir)
    logger = MMLogger.get_current_instance()
    result = load_blip_weights(model, ddp, name='epoch_3.pth', logger=logger)
    assert result['format'] == 'official'
    weights_equal(model, sd, {'vision_encoder.pos_embed': 'visual_encoder.pos_embed'})
    with pytest.raises(ValueError, match=r'^epoch_3\.pth .*missing keys'):
        load_blip_weights(
            model, {'model': {k: v for k, v in sd.items() if 'norm' not in k}}, name='epoch_3.pth'
        )
