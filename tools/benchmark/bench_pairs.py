"""Model pairs for the benchmarks: a transformers BLIP model and ours with the same weights.

Weights are random but scaled (transformers' vision init of std 1e-10 makes image features
nearly image-independent) and converted with ``convert_state_dict``, as in
tests/models/test_parity_hf_caption.py. The vocabulary is a fake word list of the real
size, so tokenization is real but cheap; ``[DEC]`` and ``[ENC]`` follow it.
"""

import math
from pathlib import Path

import torch
from transformers import BlipConfig, BlipForConditionalGeneration, BlipForImageTextRetrieval

from blip_plugin.models import BlipCaption
from blip_plugin.models.blip.pretrain import BlipPretrain
from blip_plugin.models.blip.retrieval import BlipRetrieval
from blip_plugin.models.blip.vqa import BlipVQA
from blip_plugin.models.convert import convert_state_dict
from blip_plugin.models.weights import load_blip_weights

__all__ = [
    'SIZES',
    'blip_config',
    'write_vocab',
    'caption_pair',
    'retrieval_pair',
    'vqa_model',
    'pretrain_model',
]

HEAD = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'picture', 'of', 'cat', 'dog']
PAD, SEP = 0, 3

# (vision width, depth, heads, mlp, image size, patch), (text width, layers, heads, mlp, words)
SIZES = {
    'base': ((768, 12, 12, 3072, 384, 16), (768, 12, 12, 3072, 30522)),
    'large': ((1024, 24, 16, 4096, 384, 16), (768, 12, 12, 3072, 30522)),
    'tiny': ((48, 2, 4, 96, 32, 8), (32, 2, 4, 64, 96)),
}


def blip_config(size: str) -> BlipConfig:
    """transformers config of a BLIP size; text ids: [DEC] = words, [SEP] = 3, [PAD] = 0."""
    (vw, vd, vh, vm, img, patch), (tw, td, th, tm, words) = SIZES[size]
    return BlipConfig(
        text_config=dict(
            vocab_size=words + 2,
            hidden_size=tw,
            encoder_hidden_size=vw,
            intermediate_size=tm,
            num_hidden_layers=td,
            num_attention_heads=th,
            max_position_embeddings=512 if size != 'tiny' else 64,
            bos_token_id=words,
            sep_token_id=SEP,
            pad_token_id=PAD,
            eos_token_id=SEP,
            label_smoothing=0.1,  # official LM loss (transformers' default is 0.0)
        ),
        vision_config=dict(
            hidden_size=vw,
            intermediate_size=vm,
            num_hidden_layers=vd,
            num_attention_heads=vh,
            image_size=img,
            patch_size=patch,
        ),
        image_text_hidden_size=256 if size != 'tiny' else 16,
    )


def write_vocab(cfg: BlipConfig, folder: Path) -> str:
    """A vocab.txt of ``vocab_size - 2`` words (the tokenizer appends [DEC] and [ENC])."""
    n = cfg.text_config.vocab_size - 2
    words = HEAD + [f'w{i}' for i in range(n - len(HEAD))]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'vocab.txt').write_text('\n'.join(words) + '\n')
    return str(folder)


def scramble_(model: torch.nn.Module, gain: float = 2.0) -> None:
    """Weights of std gain/sqrt(fan_in), embeddings of std 0.5, jittered LayerNorms."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'norm' in name.lower() and name.endswith('weight'):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif p.ndim == 3:  # class and position embeddings (1, n, D)
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(gain / math.sqrt(p[0].numel()) * torch.randn(p.shape, generator=gen))


def _vit_cfg(cfg: BlipConfig) -> dict:
    vc = cfg.vision_config
    return dict(
        type='BlipViT',
        arch=dict(
            embed_dim=vc.hidden_size, depth=vc.num_hidden_layers, num_heads=vc.num_attention_heads
        ),
        img_size=vc.image_size,
        patch_size=vc.patch_size,
        mlp_ratio=vc.intermediate_size / vc.hidden_size,
        layer_norm_eps=vc.layer_norm_eps,
    )


def _med_cfg(cfg: BlipConfig) -> dict:
    tc = cfg.text_config
    return dict(
        vocab_size=tc.vocab_size,
        hidden_size=tc.hidden_size,
        num_layers=tc.num_hidden_layers,
        num_heads=tc.num_attention_heads,
        intermediate_size=tc.intermediate_size,
        max_position_embeddings=tc.max_position_embeddings,
        encoder_width=tc.encoder_hidden_size,
        layer_norm_eps=tc.layer_norm_eps,
        pad_token_id=tc.pad_token_id,
    )


def caption_pair(cfg: BlipConfig, vocab: str) -> tuple:
    """(transformers BlipForConditionalGeneration, BlipCaption) with the same weights."""
    hf = BlipForConditionalGeneration(cfg).eval()
    scramble_(hf)
    ours = BlipCaption(
        _vit_cfg(cfg),
        dict(type='MEDDecoder', config=_med_cfg(cfg)),
        tokenizer=dict(name_or_path=vocab),
    ).eval()
    ours.load_state_dict(convert_state_dict(hf.state_dict()))
    return hf, ours


def retrieval_pair(cfg: BlipConfig, vocab: str) -> tuple:
    """(transformers BlipForImageTextRetrieval, BlipRetrieval) with the same weights (the
    momentum encoders and queues, which inference does not use, stay as built)."""
    hf = BlipForImageTextRetrieval(cfg).eval()
    scramble_(hf)
    ours = BlipRetrieval(
        _vit_cfg(cfg),
        _med_cfg(cfg),
        tokenizer=dict(name_or_path=vocab),
        embed_dim=cfg.image_text_hidden_size,
        queue_size=64,
    ).eval()
    load_blip_weights(ours, convert_state_dict(hf.state_dict()), strict=False)
    return hf, ours


def vqa_model(cfg: BlipConfig, vocab: str) -> BlipVQA:
    """A BlipVQA of the config's dimensions (random weights: no reference to agree with)."""
    return BlipVQA(_vit_cfg(cfg), _med_cfg(cfg), tokenizer=dict(name_or_path=vocab)).eval()


def pretrain_model(cfg: BlipConfig, vocab: str) -> BlipPretrain:
    """A BlipPretrain of the config's dimensions (random weights, a short queue, a fixed
    negative-sampling seed; dropout off so that repeated steps do the same work)."""
    model = BlipPretrain(
        _vit_cfg(cfg),
        _med_cfg(cfg),
        tokenizer=dict(name_or_path=vocab),
        embed_dim=cfg.image_text_hidden_size,
        queue_size=64,
        itm_seed=0,
    )
    return model.eval()
