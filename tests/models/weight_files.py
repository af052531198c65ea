"""Small random checkpoints in the released layouts, and the tiny models they load into, for
the weight-loading tests: official / LAVIS ``{'model': sd}`` built from timm's ViT and
transformers' BLIP text decoder, and the parts the pre-training checkpoint adds."""

from functools import partial

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from transformers import BlipTextConfig
from transformers.models.blip.modeling_blip_text import BlipTextLMHeadModel

from blip_plugin.models import BlipCaption, BlipViT, MEDTransformer

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


# our tiny ViT (BlipViT kwargs) and MED (MEDConfig) of the same dimensions
ARCH = dict(embed_dim=DIM, depth=DEPTH, num_heads=HEADS)
VIT = dict(type='BlipViT', arch=ARCH, img_size=32, patch_size=PATCH)
MED = dict(
    vocab_size=VOCAB,
    hidden_size=DIM,
    num_layers=DEPTH,
    num_heads=HEADS,
    intermediate_size=64,
    max_position_embeddings=MAXLEN,
)

WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'picture', 'of', 'red', 'square']


class NotATensor:
    """Something a legacy checkpoint might pickle besides its weights."""

    def __init__(self) -> None:
        self.lr = 0.1


def jitter(module: nn.Module, seed: int) -> nn.Module:
    """Move every parameter off its init (LayerNorm gains, biases too) so that a wrong mapping
    cannot hide behind ones and zeros."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return module.eval()


def timm_vit(seed: int = 0, img: int = 32) -> VisionTransformer:
    """The official image encoder (official models/vit.py keeps timm's names)."""
    return jitter(
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


def hf_text(seed: int = 1) -> BlipTextLMHeadModel:
    """The official text decoder (transformers' port of official models/med.py)."""
    return jitter(BlipTextLMHeadModel(BlipTextConfig(**TEXT)), seed)


def official_caption(img: int = 32, seed: int = 0) -> dict:
    """Official caption layout from timm's ViT and transformers' BlipTextLMHeadModel."""
    vit, text = timm_vit(seed, img), hf_text(seed + 1)
    sd = {f'visual_encoder.{k}': v for k, v in vit.state_dict().items()}
    sd.update({f'text_decoder.{k}': v for k, v in text.state_dict().items()})
    sd['text_decoder.bert.embeddings.position_ids'] = torch.arange(MAXLEN)[None]
    return sd


def pretrain_extras(seed: int = 2) -> dict:
    """The parts blip_pretrain.py adds to the caption parts."""
    enc = hf_text(seed).bert
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


def caption_model(vocab_dir: str, img: int = 32) -> BlipCaption:
    return BlipCaption(
        vision_encoder=dict(VIT, img_size=img),
        text_decoder=dict(type='MEDDecoder', config=dict(MED, dropout=0.0)),
        tokenizer=dict(name_or_path=vocab_dir),
    ).eval()


class RetrievalParts(nn.Module):
    """A model that needs the text encoder and the projections (as retrieval does)."""

    def __init__(self) -> None:
        super().__init__()
        self.vision_encoder = BlipViT(ARCH, img_size=32, patch_size=PATCH)
        self.text_encoder = MEDTransformer(dict(MED, encoder_width=DIM))
        self.vision_proj, self.text_proj = nn.Linear(DIM, 16), nn.Linear(DIM, 16)
        self.itm_head = nn.Linear(DIM, 2)


def weights_equal(model: nn.Module, ref: dict, pairs: dict) -> None:
    own = model.state_dict()
    for ours, theirs in pairs.items():
        assert torch.equal(own[ours], ref[theirs]), ours


def official_pretrain() -> dict:
    """An official model_base.pth layout: the decoder shares all but its self-attention with
    the encoder (blip_pretrain.py tie_enc_dec_weights), so those tensors are equal."""
    cap, extra = official_caption(), pretrain_extras()
    for k in list(extra):
        if k.startswith('text_encoder.') and '.attention.' not in k and 'position_ids' not in k:
            extra[k] = cap['text_decoder.bert.' + k[len('text_encoder.') :]]
    return {**cap, **extra}


def task_model(module: str, cls: str, vocab_dir: str) -> nn.Module:
    model_cls = getattr(pytest.importorskip(f'blip_plugin.models.blip.{module}'), cls)
    return model_cls(
        vision_encoder=dict(VIT),
        med_config=dict(MED),
        tokenizer=dict(name_or_path=vocab_dir),
        embed_dim=16,
        queue_size=8,
    )
