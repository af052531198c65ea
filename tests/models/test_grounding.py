"""BlipGrounding: an mmpretrain-layout grounding checkpoint (built from timm's ViT and
transformers' BLIP text models, renamed as mmpretrain 1.2's blip_grounding.py and
grounding_head.py name them) loads, and the loss and the decoded boxes match mmpretrain's
computation run on those reference models."""

import re
from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from transformers import BlipTextConfig
from transformers.models.blip.modeling_blip_text import BlipTextLMHeadModel, BlipTextModel

from blip_plugin.models.blip.grounding import BlipGrounding
from blip_plugin.models.heads.grounding_head import box_cxcywh_to_xyxy
from blip_plugin.models.weights import load_blip_weights

DIM, DEPTH, HEADS, IMG, PATCH, MAXLEN, BINS = 32, 2, 4, 32, 8, 40, 8
WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'red', 'blue', 'circle', 'square']
WORDS += ['left', 'on', 'right', 'big', 'small'] + [f'[unused{i}]' for i in range(330, 350)]
# mmpretrain backbones/vision_transformer.py names
MMPRETRAIN_VIT = [
    (r'^visual_encoder\.patch_embed\.proj\.', 'visual_encoder.patch_embed.projection.'),
    (r'^visual_encoder\.blocks\.(\d+)\.norm1\.', r'visual_encoder.layers.\1.ln1.'),
    (r'^visual_encoder\.blocks\.(\d+)\.norm2\.', r'visual_encoder.layers.\1.ln2.'),
    (r'^visual_encoder\.blocks\.(\d+)\.attn\.', r'visual_encoder.layers.\1.attn.'),
    (r'^visual_encoder\.blocks\.(\d+)\.mlp\.fc1\.', r'visual_encoder.layers.\1.ffn.layers.0.0.'),
    (r'^visual_encoder\.blocks\.(\d+)\.mlp\.fc2\.', r'visual_encoder.layers.\1.ffn.layers.1.'),
    (r'^visual_encoder\.norm\.', 'visual_encoder.ln1.'),
]


@pytest.fixture(scope='module')
def vocab(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('vocab')
    (path / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    return str(path)


def _jitter(module: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return module.eval()


def build(vocab: str) -> BlipGrounding:
    med = dict(vocab_size=None, hidden_size=DIM, num_layers=DEPTH, num_heads=HEADS)
    med.update(intermediate_size=64, max_position_embeddings=MAXLEN, dropout=0.0)
    vit = dict(type='BlipViT', arch=dict(embed_dim=DIM, depth=DEPTH, num_heads=HEADS))
    vit.update(img_size=IMG, patch_size=PATCH)
    return BlipGrounding(vit, med, dict(name_or_path=vocab), num_bins=BINS).eval()


def reference(vocab_size: int) -> dict:
    """The reference models mmpretrain's BlipGrounding is made of."""
    vit = VisionTransformer(
        img_size=IMG,
        patch_size=PATCH,
        embed_dim=DIM,
        depth=DEPTH,
        num_heads=HEADS,
        qkv_bias=True,
        global_pool='',
        num_classes=0,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
    )
    cfg = BlipTextConfig(
        vocab_size=vocab_size,
        hidden_size=DIM,
        encoder_hidden_size=DIM,
        intermediate_size=64,
        num_hidden_layers=DEPTH,
        num_attention_heads=HEADS,
        max_position_embeddings=MAXLEN,
    )
    return dict(
        visual_encoder=_jitter(vit, 0),
        text_encoder=_jitter(BlipTextModel(cfg, add_pooling_layer=False), 1),
        multimodal_encoder=_jitter(BlipTextModel(cfg, add_pooling_layer=False), 2),
        decoder=_jitter(BlipTextLMHeadModel(cfg), 3),
    )


def mmpretrain_state_dict(ref: dict, tok) -> dict:
    sd = {}
    for part, module in ref.items():
        name = 'grounding_head.decoder' if part == 'decoder' else part
        sd.update({f'{name}.{k}': v for k, v in module.state_dict().items()})
    out = {}
    for key, value in sd.items():
        for pattern, repl in MMPRETRAIN_VIT:
            key = re.sub(pattern, repl, key)
        out[key] = value
    # GroundingHead's buffers, as its __init__ builds them
    out['grounding_head.prefix_ids'] = torch.tensor(tok.convert_tokens_to_ids(['[unused339]']))
    target = tok.convert_tokens_to_ids([f'[unused{340 + i}]' for i in range(BINS + 1)])
    out['grounding_head.target_ids'] = torch.tensor(target)
    mask = torch.zeros(len(tok))
    mask[target[0] : target[-1] + 1] = 1
    out['grounding_head.bbox_prob_mask'] = (1.0 - mask) * -10000.0
    return out


def reference_outputs(ref: dict, tok, images, texts, boxes) -> tuple:
    """mmpretrain BlipGrounding.loss / GroundingHead.loss and predict, on the reference models,
    one sample at a time: transformers 5's BLIP text model ignores ``encoder_attention_mask``
    for a one-token query, so padded text would be attended to in its decoding steps."""
    out = [
        _reference_one(ref, tok, images[i : i + 1], texts[i : i + 1], boxes[i : i + 1])
        for i in range(len(texts))
    ]
    loss = torch.stack([o[0] for o in out]).mean()
    return loss, torch.cat([o[1] for o in out])


def _reference_one(ref: dict, tok, images, texts, boxes) -> tuple:
    image_embeds = ref['visual_encoder'].forward_features(images)  # (B, 1+N, D)
    image_atts = torch.ones(image_embeds.shape[:2], dtype=torch.long)
    text = tok(texts, padding='longest', return_tensors='pt')
    text_embeds = ref['text_encoder'](text.input_ids, attention_mask=text.attention_mask)
    mm = ref['multimodal_encoder'](
        encoder_embeds=text_embeds.last_hidden_state,
        attention_mask=text.attention_mask,
        encoder_hidden_states=image_embeds,
        encoder_attention_mask=image_atts,
    ).last_hidden_state
    memory = torch.cat([image_embeds, mm], 1)
    memory_mask = torch.cat([image_atts, text.attention_mask], 1)
    prefix_id = tok.convert_tokens_to_ids('[unused339]')
    start = tok.convert_tokens_to_ids('[unused340]')
    prob_mask = torch.full((len(tok),), -10000.0)
    prob_mask[start : start + BINS + 1] = 0.0
    dec = ref['decoder']
    ids = torch.cat([torch.full((len(texts), 1), prefix_id), (boxes * BINS).long() + start], 1)
    logits = dec(ids, encoder_hidden_states=memory, encoder_attention_mask=memory_mask).logits
    logits = logits + prob_mask
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, len(tok)), ids[:, 1:].reshape(-1))
    ids = torch.full((len(texts), 1), prefix_id)
    for _ in range(4):
        logits = dec(ids, encoder_hidden_states=memory, encoder_attention_mask=memory_mask).logits
        ids = torch.cat([ids, (logits[:, -1] + prob_mask).argmax(-1, keepdim=True)], 1)
    pred = box_cxcywh_to_xyxy((ids[:, 1:] - start).float() / BINS).clamp(0, 1)
    return loss, pred


def _samples(texts, boxes_xyxy_px) -> list:
    return [
        DataSample(text=t, gt_bboxes=b[None].numpy(), scale_factor=(0.5, 0.25))
        for t, b in zip(texts, boxes_xyxy_px)
    ]


def test_mmpretrain_checkpoint_loads_and_matches_reference(vocab, tmp_path: Path) -> None:
    model = build(vocab)
    ref = reference(len(model.tokenizer))
    sd = mmpretrain_state_dict(ref, model.tokenizer)
    path = str(tmp_path / 'blip-base_8xb16_refcoco.pth')
    torch.save({'state_dict': sd, 'meta': {'mmpretrain_version': '1.2.0'}}, path)
    info = load_blip_weights(model, path)
    assert info['format'] == 'mmpretrain' and not info['missing'] and not info['unexpected']

    torch.manual_seed(0)
    images = torch.randn(2, 3, IMG, IMG)
    texts = ['the red circle on the left', 'the big square']
    boxes = torch.tensor(
        [[0.33, 0.41, 0.22, 0.52], [0.71, 0.52, 0.43, 0.31]]
    )  # cxcywh, off bin edges
    with torch.no_grad():
        ref_loss, ref_pred = reference_outputs(ref, model.tokenizer, images, texts, boxes)
        xyxy_px = box_cxcywh_to_xyxy(boxes) * IMG
        loss = model.loss(images, _samples(texts, xyxy_px))
        out = model.predict(images, _samples(texts, xyxy_px))
    torch.testing.assert_close(loss['loss_box_tokens'], ref_loss, atol=1e-4, rtol=1e-4)
    # original pixels: input pixels / scale_factor (w 0.5, h 0.25)
    scale = torch.tensor([IMG / 0.5, IMG / 0.25] * 2)
    for sample, box, gt in zip(out, ref_pred, xyxy_px):
        torch.testing.assert_close(sample.pred_bboxes, (box * scale)[None])
        torch.testing.assert_close(sample.gt_bboxes, (gt / torch.tensor([0.5, 0.25] * 2))[None])


def test_buffers_that_disagree_are_named(vocab) -> None:
    model = build(vocab)
    sd = mmpretrain_state_dict(reference(len(model.tokenizer)), model.tokenizer)
    sd['grounding_head.target_ids'] = sd['grounding_head.target_ids'] + 1
    with pytest.raises(ValueError, match="'grounding_head.target_ids'.*another vocabulary"):
        load_blip_weights(model, sd)
    sd = mmpretrain_state_dict(reference(len(model.tokenizer)), model.tokenizer)
    sd['grounding_head.bbox_prob_mask'] = sd['grounding_head.bbox_prob_mask'][:-1]
    with pytest.raises(ValueError, match='bbox_prob_mask'):
        load_blip_weights(model, sd)


def test_toy_tokenizer_gets_bin_tokens_and_trains(tmp_path: Path) -> None:
    (tmp_path / 'vocab.txt').write_text('\n'.join(WORDS[:15]) + '\n')  # no [unused*] tokens
    model = build(str(tmp_path)).train()
    tok = model.tokenizer
    assert len(tok) == 15 + 2 + BINS + 2  # words, [DEC] [ENC], prefix + bins
    ids = tok('the red circle [unused341]').input_ids
    assert tok.convert_tokens_to_ids('[unused341]') in ids
    assert model.text_decoder.config.vocab_size == len(tok)
    images = torch.randn(2, 3, IMG, IMG)
    samples = _samples(
        ['the red circle', 'the square'], torch.tensor([[0, 0, 8, 8], [4, 4, 30, 20.0]])
    )
    loss = model.loss(images, samples)
    loss['loss_box_tokens'].backward()
    assert model.vision_encoder.patch_embed.proj.weight.grad.abs().sum() > 0
    assert set(loss) == {'loss_box_tokens', 'box_l1', 'box_giou'}
    # the saved state has no token buffers; it loads back as this plugin's format
    assert not any('grounding_head' in k for k in model.state_dict())
