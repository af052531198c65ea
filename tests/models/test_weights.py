"""Reading weight files of every format and loading them into models (blip_plugin.models.weights).

Checkpoints are small random ones written to tmp_path: official / LAVIS ``{'model': sd}`` built
from timm's ViT and transformers' BLIP text decoder, Hugging Face ``save_pretrained`` folders,
``.bin`` files, pre-training layouts, wrong and unsafe files.
"""

import argparse
import logging
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from transformers import BlipConfig, BlipForConditionalGeneration, BlipTextConfig
from transformers.models.blip.modeling_blip_text import BlipTextLMHeadModel

from blip_plugin.models import BlipCaption, BlipViT, MEDTransformer
from blip_plugin.models.weights import load_blip_weights, read_state_dict

DIM, DEPTH, HEADS, PATCH, VOCAB, MAXLEN = 32, 2, 4, 8, 40, 64
TEXT = dict(
    vocab_size=VOCAB,
    hidden_size=DIM,
    encoder_hidden_size=DIM,
    intermediate_size=64,
    num_hidden_layers=DEPTH,
    num_attention_heads=HEADS,
    max_position_embeddings=MAXLEN,
    bos_token_id=1,
    sep_token_id=3,
    eos_token_id=3,
)
WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'picture', 'of', 'red', 'square']


class NotATensor:
    """Something a legacy checkpoint might pickle besides its weights."""

    def __init__(self) -> None:
        self.lr = 0.1


def _jitter(module: nn.Module, seed: int) -> nn.Module:
    """Move every parameter off its init (LayerNorm gains, biases too)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return module.eval()


def official_caption(img: int = 32, seed: int = 0) -> dict:
    """Official caption layout from timm's ViT and transformers' BlipTextLMHeadModel."""
    vit = _jitter(
        VisionTransformer(
            img_size=img,
            patch_size=PATCH,
            embed_dim=DIM,
            depth=DEPTH,
            num_heads=HEADS,
            qkv_bias=True,
            class_token=True,
            global_pool='',
            num_classes=0,
            norm_layer=partial(nn.LayerNorm, eps=1e-6),
        ),
        seed,
    )
    text = _jitter(BlipTextLMHeadModel(BlipTextConfig(**TEXT)), seed + 1)
    sd = {f'visual_encoder.{k}': v for k, v in vit.state_dict().items()}
    sd.update({f'text_decoder.{k}': v for k, v in text.state_dict().items()})
    sd['text_decoder.bert.embeddings.position_ids'] = torch.arange(MAXLEN)[None]
    return sd


def pretrain_extras(seed: int = 2) -> dict:
    """The parts blip_pretrain.py adds to the caption parts."""
    enc = _jitter(BlipTextLMHeadModel(BlipTextConfig(**TEXT)), seed).bert
    sd = {}
    for m in ('', '_m'):
        sd.update({f'text_encoder{m}.{k}': v for k, v in enc.state_dict().items()})
        sd[f'text_encoder{m}.embeddings.position_ids'] = torch.arange(MAXLEN)[None]
        sd.update(
            {
                f'{p}{m}.{w}': torch.randn(16, DIM) if w == 'weight' else torch.randn(16)
                for p in ('vision_proj', 'text_proj')
                for w in ('weight', 'bias')
            }
        )
    sd.update(
        {
            k.replace('visual_encoder.', 'visual_encoder_m.'): v.clone()
            for k, v in official_caption(seed=seed).items()
            if k.startswith('visual_encoder.')
        }
    )
    sd.update(
        {
            'itm_head.weight': torch.randn(2, DIM),
            'itm_head.bias': torch.randn(2),
            'temp': torch.tensor(0.07),
            'image_queue': torch.randn(16, 8),
            'text_queue': torch.randn(16, 8),
            'queue_ptr': torch.zeros(1, dtype=torch.long),
        }
    )
    return sd


@pytest.fixture
def vocab_dir(tmp_path):
    d = tmp_path / 'bert-tiny-vocab'
    d.mkdir()
    (d / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    return str(d)


def caption_model(vocab_dir: str, img: int = 32) -> BlipCaption:
    return BlipCaption(
        vision_encoder=dict(
            type='BlipViT',
            arch=dict(embed_dim=DIM, depth=DEPTH, num_heads=HEADS),
            img_size=img,
            patch_size=PATCH,
        ),
        text_decoder=dict(
            type='MEDDecoder',
            config=dict(
                vocab_size=VOCAB,
                hidden_size=DIM,
                num_layers=DEPTH,
                num_heads=HEADS,
                intermediate_size=64,
                max_position_embeddings=MAXLEN,
                dropout=0.0,
            ),
        ),
        tokenizer=dict(name_or_path=vocab_dir),
    ).eval()


class RetrievalParts(nn.Module):
    """A model that needs the text encoder and the projections (as retrieval does)."""

    def __init__(self) -> None:
        super().__init__()
        self.vision_encoder = BlipViT(
            dict(embed_dim=DIM, depth=DEPTH, num_heads=HEADS), img_size=32, patch_size=PATCH
        )
        self.text_encoder = MEDTransformer(
            dict(
                vocab_size=VOCAB,
                hidden_size=DIM,
                num_layers=DEPTH,
                num_heads=HEADS,
                intermediate_size=64,
                max_position_embeddings=MAXLEN,
                encoder_width=DIM,
            )
        )
        self.vision_proj, self.text_proj = nn.Linear(DIM, 16), nn.Linear(DIM, 16)
        self.itm_head = nn.Linear(DIM, 2)


@pytest.fixture
def warnings_seen():
    """Warnings the current MMLogger emits during the test."""
    records: list = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _weights_equal(model: nn.Module, ref: dict, pairs: dict) -> None:
    own = model.state_dict()
    for ours, theirs in pairs.items():
        assert torch.equal(own[ours], ref[theirs]), ours


# -- (b) pre-training layout ------------------------------------------------------------------
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
    _weights_equal(
        model,
        sd,
        {
            'vision_encoder.blocks.1.mlp.fc2.bias': 'visual_encoder.blocks.1.mlp.fc2.bias',
            'text_decoder.transformer.layers.1.cross_attn.v.weight': 'text_decoder.bert.encoder.layer.1.crossattention.self.value.weight',
        },
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


# -- (d) Hugging Face -------------------------------------------------------------------------
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
    return _jitter(BlipForConditionalGeneration(cfg), 3)


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


# -- (e) another resolution -------------------------------------------------------------------
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


# -- (f) wrong checkpoints --------------------------------------------------------------------
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


# -- (g) pickles that are more than weights ---------------------------------------------------
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


# -- (h) tied LM head -------------------------------------------------------------------------
def test_lm_head_without_its_matrix_loads_tied(vocab_dir):
    sd = official_caption()
    del sd['text_decoder.cls.predictions.decoder.weight']
    model = caption_model(vocab_dir)
    assert not load_blip_weights(model, sd)['missing']
    head = model.text_decoder.lm_head.decoder.weight
    assert head is model.text_decoder.transformer.embeddings.word.weight
    assert torch.equal(head, sd['text_decoder.bert.embeddings.word_embeddings.weight'])


def test_lm_head_that_differs_from_the_embeddings_is_an_error(vocab_dir):
    sd = official_caption()
    sd['text_decoder.cls.predictions.decoder.weight'] = torch.randn(VOCAB, DIM)
    with pytest.raises(ValueError, match='tied parameter.*different values'):
        load_blip_weights(caption_model(vocab_dir), sd)


def test_model_wrapper_is_unwrapped(vocab_dir):
    from mmengine.model import MMDistributedDataParallel

    model = caption_model(vocab_dir)
    wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    nn.Module.__init__(wrapper)
    wrapper.module = model
    sd = official_caption()
    load_blip_weights(wrapper, sd)
    assert torch.equal(model.vision_encoder.cls_token, sd['visual_encoder.cls_token'])


# -- the task models that need the pre-training parts -----------------------------------------
def _official_pretrain() -> dict:
    """An official model_base.pth layout: the decoder shares all but its self-attention with
    the encoder (blip_pretrain.py tie_enc_dec_weights), so those tensors are equal."""
    cap, extra = official_caption(), pretrain_extras()
    for k in list(extra):
        if k.startswith('text_encoder.') and '.attention.' not in k and 'position_ids' not in k:
            extra[k] = cap['text_decoder.bert.' + k[len('text_encoder.') :]]
    return {**cap, **extra}


def _task_model(module: str, cls: str, vocab_dir: str) -> nn.Module:
    model_cls = getattr(pytest.importorskip(f'blip_plugin.models.blip.{module}'), cls)
    return model_cls(
        vision_encoder=dict(
            type='BlipViT',
            arch=dict(embed_dim=DIM, depth=DEPTH, num_heads=HEADS),
            img_size=32,
            patch_size=PATCH,
        ),
        med_config=dict(
            vocab_size=VOCAB,
            hidden_size=DIM,
            num_layers=DEPTH,
            num_heads=HEADS,
            intermediate_size=64,
            max_position_embeddings=MAXLEN,
        ),
        tokenizer=dict(name_or_path=vocab_dir),
        embed_dim=16,
        queue_size=8,
    )


def test_pretrain_checkpoint_into_pretrain_and_retrieval(tmp_path, vocab_dir):
    path = str(tmp_path / 'model_base.pth')
    sd = _official_pretrain()
    torch.save({'model': sd}, path)
    pretrain = _task_model('pretrain', 'BlipPretrain', vocab_dir)
    result = load_blip_weights(pretrain, path)
    assert not (result['missing'] or result['unexpected'] or result['unused'])
    assert torch.equal(pretrain.state_dict()['ptr_queue'], sd['queue_ptr'])
    retrieval = _task_model('retrieval', 'BlipRetrieval', vocab_dir)
    result = load_blip_weights(retrieval, path)
    assert {k.split('.')[0] for k in result['unused']} == {'text_decoder'}
    _weights_equal(
        retrieval,
        sd,
        {
            'text_encoder_m.layers.0.cross_attn.k.bias': 'text_encoder_m.encoder.layer.0.crossattention.self.key.bias',
            'image_queue': 'image_queue',
        },
    )


def test_caption_checkpoint_into_retrieval_names_what_is_missing(tmp_path, vocab_dir):
    with pytest.raises(ValueError) as info:
        load_blip_weights(_task_model('retrieval', 'BlipRetrieval', vocab_dir), official_caption())
    msg = str(info.value)
    assert 'BlipRetrieval' in msg and "'text_encoder.embeddings.word.weight'" in msg
    assert "'vision_proj': 2" in msg and "'text_encoder_m': " in msg


def test_shared_encoder_decoder_weights_must_agree(vocab_dir):
    sd = _official_pretrain()
    sd['text_encoder.encoder.layer.0.crossattention.self.key.weight'] = torch.randn(DIM, DIM)
    with pytest.raises(ValueError, match='tied parameter'):
        load_blip_weights(_task_model('pretrain', 'BlipPretrain', vocab_dir), sd)


def test_checkpoint_dicts_and_ddp_prefixes_are_unwrapped(vocab_dir):
    sd = official_caption()
    ddp = {'state_dict': {f'module.{k}': v for k, v in sd.items()}, 'meta': {'epoch': 3}}
    model = caption_model(vocab_dir)
    logger = MMLogger.get_current_instance()
    result = load_blip_weights(model, ddp, name='epoch_3.pth', logger=logger)
    assert result['format'] == 'official'
    _weights_equal(model, sd, {'vision_encoder.pos_embed': 'visual_encoder.pos_embed'})
    with pytest.raises(ValueError, match=r'^epoch_3\.pth .*missing keys'):
        load_blip_weights(
            model, {'model': {k: v for k, v in sd.items() if 'norm' not in k}}, name='epoch_3.pth'
        )
