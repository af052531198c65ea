"""Pure state-dict mappings from every released BLIP format to this plugin's names.

Formats, detected from the keys:
    ``blip_plugin``  this plugin's own names (``vision_encoder.blocks.0.attn.qkv.weight``,
                     ``text_decoder.transformer.layers.0.self_attn.q.weight``).
    ``official``     salesforce/BLIP and LAVIS ``.pth`` files (``visual_encoder.blocks.*``,
                     ``text_decoder.bert.encoder.layer.*``, ``text_encoder.*``, ``*_m``, queues).
    ``mmpretrain``   mmpretrain's converted BLIP files (``visual_encoder.layers.*.ln1``,
                     ``seq_gen_head.decoder.bert.*``, ``vision_backbone.*``).
    ``hf``           Hugging Face transformers ``Blip*`` models (``vision_model.encoder.layers.*``).

Every key is either mapped or listed in an error: nothing is dropped silently, except buffers
that carry no weights (BERT's ``position_ids``) and the LM bias that BERT stores twice.
"""
import re
from typing import Callable, Optional

import torch

__all__ = ['detect_format', 'convert_state_dict', 'FORMATS']

FORMATS = ('blip_plugin', 'official', 'mmpretrain', 'hf')

Rule = tuple[str, str]  # (regex on the key's rest, replacement)

_BERT_LAYER = [
    (r'attention\.self\.query\.', 'self_attn.q.'),
    (r'attention\.self\.key\.', 'self_attn.k.'),
    (r'attention\.self\.value\.', 'self_attn.v.'),
    (r'attention\.output\.dense\.', 'self_attn.out.'),
    (r'attention\.output\.LayerNorm\.', 'self_attn_norm.'),
    (r'crossattention\.self\.query\.', 'cross_attn.q.'),
    (r'crossattention\.self\.key\.', 'cross_attn.k.'),
    (r'crossattention\.self\.value\.', 'cross_attn.v.'),
    (r'crossattention\.output\.dense\.', 'cross_attn.out.'),
    (r'crossattention\.output\.LayerNorm\.', 'cross_attn_norm.'),
    (r'intermediate\.dense\.', 'ffn.fc1.'),
    (r'output\.dense\.', 'ffn.fc2.'),
    (r'output\.LayerNorm\.', 'ffn_norm.'),
]
BERT: list[Rule] = [
    (r'embeddings\.word_embeddings\.', 'embeddings.word.'),
    (r'embeddings\.position_embeddings\.', 'embeddings.position.'),
    (r'embeddings\.LayerNorm\.', 'embeddings.norm.'),
    (r'embeddings\.position_ids$', ''),  # a buffer of arange(512): no weights
] + [(r'encoder\.layer\.(\d+)\.' + a + r'(weight|bias)$', r'layers.\1.' + b + r'\2')
     for a, b in _BERT_LAYER]
LM_HEAD: list[Rule] = [
    (r'predictions\.transform\.dense\.', 'dense.'),
    (r'predictions\.transform\.LayerNorm\.', 'norm.'),
    (r'predictions\.decoder\.(weight|bias)$', r'decoder.\1'),
    (r'predictions\.bias$', 'decoder.bias'),  # BERT keeps the decoder bias twice
]
VIT_OFFICIAL: list[Rule] = [(r'(.+)$', r'\1')]  # official = timm names = ours
VIT_HF: list[Rule] = [
    (r'embeddings\.class_embedding$', 'cls_token'),
    (r'embeddings\.position_embedding$', 'pos_embed'),
    (r'embeddings\.patch_embedding\.', 'patch_embed.proj.'),
    (r'encoder\.layers\.(\d+)\.self_attn\.qkv\.', r'blocks.\1.attn.qkv.'),
    (r'encoder\.layers\.(\d+)\.self_attn\.projection\.', r'blocks.\1.attn.proj.'),
    (r'encoder\.layers\.(\d+)\.layer_norm1\.', r'blocks.\1.norm1.'),
    (r'encoder\.layers\.(\d+)\.layer_norm2\.', r'blocks.\1.norm2.'),
    (r'encoder\.layers\.(\d+)\.mlp\.(fc1|fc2)\.', r'blocks.\1.mlp.\2.'),
    (r'post_layernorm\.', 'norm.'),
]
VIT_MMPRETRAIN: list[Rule] = [
    (r'(cls_token|pos_embed)$', r'\1'),
    (r'patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'layers\.(\d+)\.ln1\.', r'blocks.\1.norm1.'),
    (r'layers\.(\d+)\.ln2\.', r'blocks.\1.norm2.'),
    (r'layers\.(\d+)\.attn\.(qkv|proj)\.', r'blocks.\1.attn.\2.'),
    (r'layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
    (r'layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
    (r'ln1\.', 'norm.'),
]
SAME: list[Rule] = [(r'(.*)$', r'\1')]

# format -> [(source prefix, target prefix, rules)], first match wins.
_PARTS: dict[str, list[tuple[str, str, list[Rule]]]] = {
    'official': [
        ('visual_encoder.', 'vision_encoder.', VIT_OFFICIAL),
        ('visual_encoder_m.', 'vision_encoder_m.', VIT_OFFICIAL),
        ('text_decoder.bert.', 'text_decoder.transformer.', BERT),
        ('text_decoder.cls.', 'text_decoder.lm_head.', LM_HEAD),
        ('text_encoder.', 'text_encoder.', BERT),
        ('text_encoder_m.', 'text_encoder_m.', BERT),
        ('', '', [(r'(vision_proj|text_proj|itm_head|vision_proj_m|text_proj_m)\.(weight|bias)$',
                   r'\1.\2'),
                  (r'(temp|image_queue|text_queue|idx_queue|ptr_queue)$', r'\1')]),
    ],
    'mmpretrain': [
        ('visual_encoder.', 'vision_encoder.', VIT_MMPRETRAIN),
        ('vision_backbone.', 'vision_encoder.', VIT_MMPRETRAIN),
        ('vision_backbone_m.', 'vision_encoder_m.', VIT_MMPRETRAIN),
        ('seq_gen_head.decoder.bert.', 'text_decoder.transformer.', BERT),
        ('seq_gen_head.decoder.cls.', 'text_decoder.lm_head.', LM_HEAD),
        ('text_backbone.', 'text_encoder.', BERT),
        ('text_backbone_m.', 'text_encoder_m.', BERT),
        ('vision_neck.', 'vision_proj.', SAME),
        ('text_neck.', 'text_proj.', SAME),
        ('vision_neck_m.', 'vision_proj_m.', SAME),
        ('text_neck_m.', 'text_proj_m.', SAME),
        ('multimodal_head.fc.', 'itm_head.', SAME),
        ('', '', [(r'(temp)$', r'\1')]),
    ],
    'hf': [
        ('vision_model.', 'vision_encoder.', VIT_HF),
        ('text_decoder.bert.', 'text_decoder.transformer.', BERT),
        ('text_decoder.cls.', 'text_decoder.lm_head.', LM_HEAD),
        ('text_encoder.', 'text_encoder.', BERT),
        ('', '', [(r'(vision_proj|text_proj|itm_head)\.(weight|bias)$', r'\1.\2')]),
    ],
}


def detect_format(state_dict: dict) -> str:
    """Name the format of a BLIP state dict from its keys (see the module docstring)."""
    keys = list(state_dict)

    def has(pattern: str) -> bool:
        return any(re.match(pattern, k) for k in keys)

    if has(r'vision_encoder\.') or has(r'text_decoder\.transformer\.'):
        return 'blip_plugin'
    if has(r'vision_model\.'):
        return 'hf'
    if has(r'(visual_encoder|vision_backbone)\.layers\.') or has(r'seq_gen_head\.'):
        return 'mmpretrain'
    if has(r'visual_encoder\.blocks\.') or has(r'text_(en|de)coder\.'):
        return 'official'
    raise ValueError('not a BLIP state dict: none of the known formats matches its keys '
                     f'(first keys: {keys[:5]})')


def _apply(rules: list[Rule], rest: str) -> Optional[str]:
    for pattern, repl in rules:
        if re.match(pattern, rest):
            return re.sub(pattern, repl, rest, count=1)
    return None


def convert_state_dict(state_dict: dict, fmt: Optional[str] = None,
                       log: Optional[Callable[[str], None]] = None) -> dict:
    """Map a BLIP state dict of any supported format to this plugin's names.

    Args:
        state_dict: the weights (a bare state dict).
        fmt: one of :data:`FORMATS`; None detects it.
        log: called with one line describing what was done, if given.

    Returns:
        A new dict with this plugin's keys (tensors are not copied).

    Raises:
        ValueError: keys that no rule maps, all listed; or two sources of one target that
            disagree.
    """
    fmt = fmt or detect_format(state_dict)
    if fmt not in FORMATS:
        raise ValueError(f'unknown checkpoint format {fmt!r}; choose from {FORMATS}')
    if fmt == 'blip_plugin':
        return dict(state_dict)
    out: dict[str, torch.Tensor] = {}
    unmapped, dropped = [], 0
    for key, value in state_dict.items():
        target = None
        for src, dst, rules in _PARTS[fmt]:
            if key.startswith(src):
                rest = _apply(rules, key[len(src):])
                if rest is not None:
                    target = dst + rest if rest else ''
                    break
        if target is None:
            unmapped.append(key)
        elif target == '':
            dropped += 1
        elif target in out:
            if out[target].shape != value.shape or not torch.equal(out[target], value):
                raise ValueError(f'{key!r} and another key both map to {target!r} with '
                                 'different values')
        else:
            out[target] = value
    if unmapped:
        raise ValueError(f'{len(unmapped)} keys of this {fmt} checkpoint have no mapping: '
                         f'{unmapped[:20]}{" ..." if len(unmapped) > 20 else ""}')
    if log is not None:
        log(f'converted a {fmt} BLIP checkpoint: {len(out)} tensors'
            + (f' ({dropped} position_ids buffers skipped)' if dropped else ''))
    return out
