"""Key mappings of blip_plugin.models.convert, checked against independent implementations.

The official layout is built from timm's VisionTransformer (official models/vit.py keeps
timm's names) and transformers' BlipTextLMHeadModel (a port of official models/med.py with the
same names), both made in tests/models/weight_files.py; the mmpretrain layout is written here
as literal renames from mmpretrain 1.2's source (backbones/vision_transformer.py,
multimodal/blip/*.py, heads/itc_head.py, itm_head.py).
"""

import re

import pytest
import torch
from torch import nn

from blip_plugin.models import BlipViT, MEDDecoder, MEDTransformer
from blip_plugin.models.convert import convert_state_dict, detect_format
from blip_plugin.models.weights import load_blip_weights

from .weight_files import DEPTH, DIM, HEADS, MAXLEN, PATCH, VOCAB, hf_text, timm_vit
from .weight_files import MED as TINY_MED

IMG = 32  # the side timm_vit() is built for
MED = dict(TINY_MED, encoder_width=DIM, dropout=0.0)


def official(
    vit: nn.Module, text: nn.Module, vision: str = 'visual_encoder', part: str = 'text_decoder'
) -> dict:
    """An official-layout dict: ViT under ``vision``, HF text model under ``part``, plus the
    ``position_ids`` buffer the official files carry."""
    sd = {f'{vision}.{k}': v for k, v in vit.state_dict().items()}
    sd.update({f'{part}.{k}': v for k, v in text.state_dict().items()})
    bert = 'bert.' if part.startswith('text_decoder') else ''
    sd[f'{part}.{bert}embeddings.position_ids'] = torch.arange(MAXLEN).expand(1, -1)
    return sd


def official_retrieval(seed: int = 0) -> dict:
    """Official blip_retrieval.py layout: encoders, momentum copies, projections, queues."""
    g = torch.Generator().manual_seed(seed)
    sd: dict = {}
    for m in ('', '_m'):
        sd.update(
            official(
                timm_vit(seed), hf_text(seed + 1).bert, 'visual_encoder' + m, 'text_encoder' + m
            )
        )
        for proj, width in (('vision_proj', DIM), ('text_proj', DIM)):
            sd[f'{proj}{m}.weight'] = torch.randn(16, width, generator=g)
            sd[f'{proj}{m}.bias'] = torch.randn(16, generator=g)
    sd['itm_head.weight'], sd['itm_head.bias'] = torch.randn(2, DIM), torch.randn(2)
    sd['temp'] = torch.tensor(0.07)
    sd['image_queue'], sd['text_queue'] = torch.randn(16, 8), torch.randn(16, 8)
    sd['idx_queue'], sd['ptr_queue'] = torch.full((1, 8), -100), torch.zeros(1, dtype=torch.long)
    return sd


class CaptionParts(nn.Module):
    """The caption model's weights without its tokenizer."""

    def __init__(self) -> None:
        super().__init__()
        self.vision_encoder = BlipViT(
            dict(embed_dim=DIM, depth=DEPTH, num_heads=HEADS), img_size=IMG, patch_size=PATCH
        ).eval()
        self.text_decoder = MEDDecoder(MED).eval()


# -- (a) parity with the independent implementations ------------------------------------------
def test_official_caption_parity_with_timm_and_hf(tmp_path):
    vit, text = timm_vit(), hf_text()
    path = str(tmp_path / 'model_base_caption_capfilt_large.pth')
    torch.save({'model': official(vit, text)}, path)
    model = CaptionParts()
    result = load_blip_weights(model, path)
    assert result['format'] == 'official' and not result['missing']

    images = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        ours, ref = model.vision_encoder(images), vit.forward_features(images)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)

        ids = torch.randint(4, VOCAB, (2, 7))
        mask = torch.ones_like(ids)
        mask[1, 5:] = 0
        logits = model.text_decoder(ids, mask, image_embeds=ref)
        ref_logits = text(
            input_ids=ids,
            attention_mask=mask,
            encoder_hidden_states=ref,
            encoder_attention_mask=torch.ones(ref.shape[:2], dtype=torch.long),
        ).logits
    torch.testing.assert_close(logits[0], ref_logits[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(logits[1, :5], ref_logits[1, :5], atol=1e-4, rtol=0)


def test_official_keys_all_mapped_and_position_ids_checked():
    sd = official(timm_vit(), hf_text())
    lines = []
    out = convert_state_dict(sd, log=lines.append)
    assert len(out) == len(sd) - 2  # position_ids dropped; the LM bias is stored twice
    assert (
        'text_decoder.lm_head.decoder.weight' in out and 'text_decoder.lm_head.decoder.bias' in out
    )
    assert '1 position_ids buffers checked and skipped' in lines[0]
    sd['text_decoder.bert.embeddings.position_ids'] = torch.arange(MAXLEN).flip(0)[None]
    with pytest.raises(ValueError, match='position_ids.*not arange'):
        convert_state_dict(sd)


def test_lm_bias_kept_twice_must_agree():
    sd = official(timm_vit(), hf_text())
    sd['text_decoder.cls.predictions.decoder.bias'] = sd['text_decoder.cls.predictions.bias'] + 1
    with pytest.raises(
        ValueError, match='predictions.*both map to .text_decoder.lm_head.decoder.bias'
    ):
        convert_state_dict(sd)


# -- (b) pre-training and retrieval layouts ----------------------------------------------------
def test_official_pretrain_and_lavis_layout_maps_every_key():
    sd = official_retrieval()
    sd.update(official(timm_vit(), hf_text()))  # + text_decoder: BLIP_Pretrain
    sd['queue_ptr'] = sd.pop('ptr_queue')  # blip_pretrain.py and LAVIS name it queue_ptr
    del sd['idx_queue']
    out = convert_state_dict(sd)
    parts = {k.split('.')[0] for k in out}
    assert parts == {
        'vision_encoder',
        'vision_encoder_m',
        'text_encoder',
        'text_encoder_m',
        'text_decoder',
        'vision_proj',
        'text_proj',
        'vision_proj_m',
        'text_proj_m',
        'itm_head',
        'temp',
        'image_queue',
        'text_queue',
        'ptr_queue',
    }
    assert 'text_encoder_m.layers.1.cross_attn.k.weight' in out
    retrieval = convert_state_dict(official_retrieval())
    assert {'idx_queue', 'ptr_queue'} <= set(retrieval)


def test_med_encoder_takes_converted_text_encoder():
    out = convert_state_dict(official_retrieval())
    enc = MEDTransformer(MED)
    sub = {k[len('text_encoder.') :]: v for k, v in out.items() if k.startswith('text_encoder.')}
    result = enc.load_state_dict(sub, strict=True)
    assert not result.missing_keys


# -- (c) mmpretrain: literal renames from its source ------------------------------------------
# backbones/vision_transformer.py: patch_embed.projection, layers.N.{ln1,attn.qkv,attn.proj,
# ln2,ffn.layers.0.0,ffn.layers.1}, final norm ln1 (final_norm=True), pre_norm=False.
MMPRETRAIN_VIT = [
    (r'^(\w+)\.patch_embed\.proj\.', r'\1.patch_embed.projection.'),
    (r'^(\w+)\.blocks\.(\d+)\.norm1\.', r'\1.layers.\2.ln1.'),
    (r'^(\w+)\.blocks\.(\d+)\.norm2\.', r'\1.layers.\2.ln2.'),
    (r'^(\w+)\.blocks\.(\d+)\.attn\.', r'\1.layers.\2.attn.'),
    (r'^(\w+)\.blocks\.(\d+)\.mlp\.fc1\.', r'\1.layers.\2.ffn.layers.0.0.'),
    (r'^(\w+)\.blocks\.(\d+)\.mlp\.fc2\.', r'\1.layers.\2.ffn.layers.1.'),
    (r'^(visual_encoder(_m)?)\.norm\.', r'\1.ln1.'),
]
# blip_caption.py: self.visual_encoder, self.seq_gen_head (SeqGenerationHead.decoder).
MMPRETRAIN_CAPTION = [(r'^text_decoder\.', 'seq_gen_head.decoder.')]
# blip_retrieval.py: vision_backbone(_m), text_backbone(_m), vision_neck(_m), text_neck(_m),
# multimodal_head (ITMHead.fc), temp shared with head.temp; ITCHead buffers image_queue,
# text_queue, idx_queue, queue_ptr.
MMPRETRAIN_RETRIEVAL = [
    (r'^visual_encoder(_m)?\.', r'vision_backbone\1.'),
    (r'^text_encoder(_m)?\.', r'text_backbone\1.'),
    (r'^vision_proj(_m)?\.', r'vision_neck\1.'),
    (r'^text_proj(_m)?\.', r'text_neck\1.'),
    (r'^itm_head\.', 'multimodal_head.fc.'),
    (r'^(image_queue|text_queue|idx_queue)$', r'head.\1'),
    (r'^ptr_queue$', 'head.queue_ptr'),
]


def to_mmpretrain(sd: dict, rules: list) -> dict:
    out = {}
    for key, value in sd.items():
        for pattern, repl in MMPRETRAIN_VIT + rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    if 'temp' in out:
        out['head.temp'] = out['temp']
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_mmpretrain_caption_maps_to_the_same_weights(tmp_path):
    sd = official(timm_vit(), hf_text())
    mm = to_mmpretrain(sd, MMPRETRAIN_CAPTION)
    assert 'visual_encoder.layers.0.ffn.layers.0.0.weight' in mm and 'visual_encoder.ln1.bias' in mm
    assert detect_format(mm) == 'mmpretrain'
    _assert_same(convert_state_dict(mm), convert_state_dict(sd))

    path = str(tmp_path / 'blip-base_3rdparty_caption.pth')
    torch.save({'state_dict': mm, 'meta': {'mmpretrain_version': '1.2.0'}}, path)
    a, b = CaptionParts(), CaptionParts()
    load_blip_weights(a, path)
    load_blip_weights(b, sd)
    _assert_same(a.state_dict(), b.state_dict())


def test_mmpretrain_retrieval_maps_to_the_same_weights():
    sd = official_retrieval()
    mm = to_mmpretrain(sd, MMPRETRAIN_RETRIEVAL)
    assert {
        'head.queue_ptr',
        'head.temp',
        'multimodal_head.fc.weight',
        'vision_neck_m.bias',
        'vision_backbone_m.layers.1.ln2.weight',
    } <= set(mm)
    assert detect_format(mm) == 'mmpretrain'
    _assert_same(convert_state_dict(mm), convert_state_dict(sd))
    mm['head.temp'] = torch.tensor(0.5)
    with pytest.raises(ValueError, match='temp'):
        convert_state_dict(mm)


def test_mmpretrain_vqa_layout():
    sd = official(timm_vit(), hf_text())
    sd.update(official(timm_vit(), hf_text(5).bert, 'visual_encoder', 'text_encoder'))
    mm = to_mmpretrain(
        sd,
        [
            (r'^visual_encoder\.', 'vision_backbone.'),
            (r'^text_encoder\.', 'multimodal_backbone.'),
            (r'^text_decoder\.', 'vqa_head.decoder.'),
        ],
    )
    _assert_same(convert_state_dict(mm), convert_state_dict(sd))


# -- detection and refusals -------------------------------------------------------------------
def test_detect_format():
    sd = official(timm_vit(), hf_text())
    assert detect_format(sd) == 'official'
    assert detect_format(convert_state_dict(sd)) == 'blip_plugin'
    assert detect_format({'vision_model.post_layernorm.weight': torch.ones(2)}) == 'hf'
    with pytest.raises(ValueError, match='not a BLIP state dict'):
        detect_format({'conv1.weight': torch.ones(1), 'fc.weight': torch.ones(1)})


@pytest.mark.parametrize(
    'key, reason',
    [
        ('text_encoder.encoder.layer.0.crossattention.self2.query.weight', 'no rule'),
        ('cls_head_m.0.weight', 'momentum NLVR2 head'),
        ('text_decoder.bert.embeddings.token_type_embeddings.weight', 'token-type'),
        ('visual_encoder.blocks.0.attn.q_norm.weight', 'no rule'),
    ],
)
def test_unmapped_official_keys_are_named_with_the_reason(key, reason):
    sd = official(timm_vit(), hf_text())
    sd[key] = torch.zeros(2)
    with pytest.raises(ValueError, match='1 keys') as info:
        convert_state_dict(sd)
    assert key in str(info.value) and reason in str(info.value)


def test_unmapped_mmpretrain_pre_norm_is_named():
    mm = to_mmpretrain(official(timm_vit(), hf_text()), MMPRETRAIN_CAPTION)
    mm['visual_encoder.pre_norm.weight'] = torch.ones(DIM)
    with pytest.raises(ValueError, match=r'visual_encoder\.pre_norm\.weight: a pre-norm ViT'):
        convert_state_dict(mm)


def test_plugin_format_passes_through():
    out = convert_state_dict(official(timm_vit(), hf_text()))
    again = convert_state_dict(out)
    assert again == out and again is not out
    with pytest.raises(ValueError, match='unknown checkpoint format'):
        convert_state_dict(out, 'lavis2')
