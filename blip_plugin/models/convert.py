"""Pure state-dict mappings from every released BLIP format to this plugin's names.

Formats, detected from the keys (:func:`detect_format`):
    ``blip_plugin``  this plugin's own names (``vision_encoder.blocks.0.attn.qkv.weight``,
                     ``text_decoder.transformer.layers.0.self_attn.q.weight``).
    ``official``     salesforce/BLIP and LAVIS ``.pth`` files (models/blip*.py,
                     lavis/models/blip_models/*.py): ``visual_encoder[_m].blocks.*``,
                     ``text_decoder.{bert,cls}.*``, ``text_encoder[_m].*``,
                     ``{vision,text}_proj[_m]``, ``itm_head``, ``temp``, ``{image,text,idx}_queue``,
                     ``ptr_queue`` (BLIP retrieval) or ``queue_ptr`` (BLIP pre-training, LAVIS).
    ``mmpretrain``   mmpretrain 1.x BLIP models (models/multimodal/blip/*.py): ViT with
                     mmpretrain names (``layers.N.ln1``, ``ffn.layers.0.0``, final ``ln1``) under
                     ``visual_encoder`` (caption, grounding) or ``vision_backbone[_m]``
                     (retrieval, VQA); ``seq_gen_head`` / ``vqa_head`` / ``grounding_head``
                     ``.decoder.{bert,cls}``; ``text_backbone[_m]``, ``multimodal_backbone``,
                     ``{vision,text}_neck[_m]``, ``multimodal_head.fc``, ``temp``, ``head.temp``,
                     ``head.{image,text,idx}_queue``, ``head.queue_ptr``.
    ``hf``           Hugging Face ``BlipForConditionalGeneration``, ``BlipForImageTextRetrieval``
                     and ``BlipForQuestionAnswering`` (``vision_model.*``, ``text_encoder.*``,
                     ``text_decoder.{bert,cls}.*``, ``{vision,text}_proj``, ``itm_head``).

Every key is mapped by a rule that matches it whole, or the conversion fails naming it. The
only keys that map to nothing are BERT's ``embeddings.position_ids`` buffers, and only after
checking that they hold ``arange(n)`` (what the code would rebuild anyway); they are counted in
the log line. mmpretrain's grounding token buffers (``grounding_head.prefix_ids``,
``target_ids``, ``bbox_prob_mask``) keep their names: ``BlipGroundingHead`` checks them against
the ids its tokenizer gives and drops them on load. Keys that reach the same target twice (BERT
keeps the LM bias twice; mmpretrain keeps ``temp`` twice) must be equal.

Target names of the parts the caption model lacks (``text_encoder``, ``vision_proj``,
``itm_head``, ``temp``, the queues; ``ptr_queue`` for the queue pointer) follow the official
BLIP retrieval model, so later task models can declare them once.
"""

import re
from typing import Callable, Optional

import torch

__all__ = ['detect_format', 'convert_state_dict', 'FORMATS']

FORMATS = ('blip_plugin', 'official', 'mmpretrain', 'hf')

Rule = tuple[str, str]  # (regex matching the key's rest in full, replacement); '' = dropped
_WB = r'(weight|bias)$'

# -- BERT (official med.py, LAVIS med.py, mmpretrain language_model.py, HF modeling_blip_text) --
_BERT_LAYER = [
    ('attention.self.query', 'self_attn.q'),
    ('attention.self.key', 'self_attn.k'),
    ('attention.self.value', 'self_attn.v'),
    ('attention.output.dense', 'self_attn.out'),
    ('attention.output.LayerNorm', 'self_attn_norm'),
    ('crossattention.self.query', 'cross_attn.q'),
    ('crossattention.self.key', 'cross_attn.k'),
    ('crossattention.self.value', 'cross_attn.v'),
    ('crossattention.output.dense', 'cross_attn.out'),
    ('crossattention.output.LayerNorm', 'cross_attn_norm'),
    # NLVR2 (official nlvr_encoder.py): one cross-attention per image, merged
    ('crossattention.self0.query', 'cross_attn0.q'),
    ('crossattention.self0.key', 'cross_attn0.k'),
    ('crossattention.self0.value', 'cross_attn0.v'),
    ('crossattention.output.dense0', 'cross_attn0.out'),
    ('crossattention.self1.query', 'cross_attn1.q'),
    ('crossattention.self1.key', 'cross_attn1.k'),
    ('crossattention.self1.value', 'cross_attn1.v'),
    ('crossattention.output.dense1', 'cross_attn1.out'),
    ('crossattention.output.merge_layer', 'cross_attn_merge'),
    ('intermediate.dense', 'ffn.fc1'),
    ('output.dense', 'ffn.fc2'),
    ('output.LayerNorm', 'ffn_norm'),
]
BERT: list[Rule] = [
    (r'embeddings\.word_embeddings\.weight$', 'embeddings.word.weight'),
    (r'embeddings\.position_embeddings\.weight$', 'embeddings.position.weight'),
    (r'embeddings\.LayerNorm\.' + _WB, r'embeddings.norm.\1'),
    (r'embeddings\.position_ids$', ''),  # a buffer of arange(max_len): checked, then dropped
] + [
    (r'encoder\.layer\.(\d+)\.' + re.escape(a) + r'\.' + _WB, r'layers.\1.' + b + r'.\2')
    for a, b in _BERT_LAYER
]
LM_HEAD: list[Rule] = [
    (r'predictions\.transform\.dense\.' + _WB, r'dense.\1'),
    (r'predictions\.transform\.LayerNorm\.' + _WB, r'norm.\1'),
    (r'predictions\.decoder\.' + _WB, r'decoder.\1'),
    (r'predictions\.bias$', 'decoder.bias'),  # BERT keeps the decoder bias twice
]

# -- ViT: official models/vit.py == timm names == ours -----------------------------------------
VIT_OFFICIAL: list[Rule] = [
    (r'(cls_token|pos_embed)$', r'\1'),
    (r'patch_embed\.proj\.' + _WB, r'patch_embed.proj.\1'),
    (
        r'blocks\.(\d+)\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.' + _WB,
        r'blocks.\1.\2.\3',
    ),
    (r'norm\.' + _WB, r'norm.\1'),
]
VIT_HF: list[Rule] = [  # transformers models/blip/modeling_blip.py BlipVisionModel
    (r'embeddings\.class_embedding$', 'cls_token'),
    (r'embeddings\.position_embedding$', 'pos_embed'),
    (r'embeddings\.patch_embedding\.' + _WB, r'patch_embed.proj.\1'),
    (r'encoder\.layers\.(\d+)\.self_attn\.qkv\.' + _WB, r'blocks.\1.attn.qkv.\2'),
    (r'encoder\.layers\.(\d+)\.self_attn\.projection\.' + _WB, r'blocks.\1.attn.proj.\2'),
    (r'encoder\.layers\.(\d+)\.layer_norm1\.' + _WB, r'blocks.\1.norm1.\2'),
    (r'encoder\.layers\.(\d+)\.layer_norm2\.' + _WB, r'blocks.\1.norm2.\2'),
    (r'encoder\.layers\.(\d+)\.mlp\.(fc1|fc2)\.' + _WB, r'blocks.\1.mlp.\2.\3'),
    (r'post_layernorm\.' + _WB, r'norm.\1'),
]
VIT_MMPRETRAIN: list[Rule] = [  # mmpretrain models/backbones/vision_transformer.py
    (r'(cls_token|pos_embed)$', r'\1'),
    (r'patch_embed\.projection\.' + _WB, r'patch_embed.proj.\1'),
    (r'layers\.(\d+)\.ln1\.' + _WB, r'blocks.\1.norm1.\2'),
    (r'layers\.(\d+)\.ln2\.' + _WB, r'blocks.\1.norm2.\2'),
    (r'layers\.(\d+)\.attn\.(qkv|proj)\.' + _WB, r'blocks.\1.attn.\2.\3'),
    (r'layers\.(\d+)\.ffn\.layers\.0\.0\.' + _WB, r'blocks.\1.mlp.fc1.\2'),
    (r'layers\.(\d+)\.ffn\.layers\.1\.' + _WB, r'blocks.\1.mlp.fc2.\2'),
    (r'ln1\.' + _WB, r'norm.\1'),  # final_norm=True: the last norm is called ln1
]
LINEAR: list[Rule] = [(_WB, r'\1')]

# format -> [(source prefix, target prefix, rules)]; the first prefix whose rules match wins.
_PARTS: dict[str, list[tuple[str, str, list[Rule]]]] = {
    'official': [
        ('visual_encoder.', 'vision_encoder.', VIT_OFFICIAL),
        ('visual_encoder_m.', 'vision_encoder_m.', VIT_OFFICIAL),
        ('text_decoder.bert.', 'text_decoder.transformer.', BERT),
        ('text_decoder.cls.', 'text_decoder.lm_head.', LM_HEAD),
        ('text_encoder.', 'text_encoder.', BERT),
        ('text_encoder_m.', 'text_encoder_m.', BERT),
        (
            '',
            '',
            [
                (r'(vision_proj|text_proj|itm_head|vision_proj_m|text_proj_m)\.' + _WB, r'\1.\2'),
                (r'(temp|image_queue|text_queue|idx_queue|ptr_queue)$', r'\1'),
                (r'queue_ptr$', 'ptr_queue'),
                (r'cls_head\.([02])\.' + _WB, r'cls_head.\1.\2'),  # NLVR2 MLP
            ],
        ),  # pre-training and LAVIS name
    ],
    'mmpretrain': [
        ('visual_encoder.', 'vision_encoder.', VIT_MMPRETRAIN),
        ('vision_backbone.', 'vision_encoder.', VIT_MMPRETRAIN),
        ('vision_backbone_m.', 'vision_encoder_m.', VIT_MMPRETRAIN),
        ('seq_gen_head.decoder.bert.', 'text_decoder.transformer.', BERT),
        ('seq_gen_head.decoder.cls.', 'text_decoder.lm_head.', LM_HEAD),
        ('vqa_head.decoder.bert.', 'text_decoder.transformer.', BERT),
        ('vqa_head.decoder.cls.', 'text_decoder.lm_head.', LM_HEAD),
        ('grounding_head.decoder.bert.', 'text_decoder.transformer.', BERT),
        ('grounding_head.decoder.cls.', 'text_decoder.lm_head.', LM_HEAD),
        ('text_backbone.', 'text_encoder.', BERT),
        ('text_backbone_m.', 'text_encoder_m.', BERT),
        ('multimodal_backbone.', 'text_encoder.', BERT),  # VQA: the official text_encoder
        ('text_encoder.', 'text_encoder.', BERT),  # grounding
        ('multimodal_encoder.', 'multimodal_encoder.', BERT),  # grounding
        # GroundingHead's token buffers: kept, for BlipGroundingHead to check against its
        # tokenizer and drop on load (they are rebuilt from the tokenizer, never loaded)
        (
            'grounding_head.',
            'grounding_head.',
            [(r'(prefix_ids|target_ids|bbox_prob_mask)$', r'\1')],
        ),
        ('vision_neck.', 'vision_proj.', LINEAR),
        ('text_neck.', 'text_proj.', LINEAR),
        ('vision_neck_m.', 'vision_proj_m.', LINEAR),
        ('text_neck_m.', 'text_proj_m.', LINEAR),
        ('multimodal_head.fc.', 'itm_head.', LINEAR),  # ITMHead(with_pooler=False)
        (
            'head.',
            '',
            [
                (r'(temp|image_queue|text_queue|idx_queue)$', r'\1'),  # ITCHead
                (r'queue_ptr$', 'ptr_queue'),
                (r'([02])\.' + _WB, r'cls_head.\1.\2'),  # BlipNLVR's MLP head
            ],
        ),
        ('', '', [(r'temp$', 'temp')]),
    ],
    'hf': [
        ('vision_model.', 'vision_encoder.', VIT_HF),
        ('text_decoder.bert.', 'text_decoder.transformer.', BERT),
        ('text_decoder.cls.', 'text_decoder.lm_head.', LM_HEAD),
        ('text_encoder.', 'text_encoder.', BERT),
        ('', '', [(r'(vision_proj|text_proj|itm_head)\.' + _WB, r'\1.\2')]),
    ],
}

# Keys of released checkpoints this converter knows and deliberately does not map.
_NOT_SUPPORTED: list[tuple[str, str]] = [
    (
        r'(cls_head_m|head)\.\d+\.',
        "LAVIS's momentum NLVR2 head has no counterpart here (official BLIP has none)",
    ),
    (r'.*token_type_embeddings\.', 'BLIP uses no token-type embeddings (add_type_embeddings)'),
    (r'.*pooler\.', 'BLIP uses no BERT pooler (add_pooling_layer=False / with_pooler=False)'),
    (
        r'(visual_encoder|vision_backbone)(_m)?\.pre_norm\.',
        "a pre-norm ViT (CLIP style) is not BLIP's ViT",
    ),
    (
        r'(visual_encoder|vision_backbone)(_m)?\.layers\.\d+\.(attn|ffn)\.gamma',
        "layer scale is not part of BLIP's ViT",
    ),
    (
        r'(text_model|visual_projection|text_projection|logit_scale)',
        "HF BlipModel's bias-free projections and logit_scale differ from BLIP's; use a "
        'BlipForImageTextRetrieval checkpoint',
    ),
]

# Which format a state dict is in: the first whose signature any key matches.
_SIGNATURES = [
    (
        'blip_plugin',
        r'(vision_encoder(_m)?\.|text_decoder\.(transformer|lm_head)\.'
        r'|(text|multimodal)_encoder(_m)?\.(layers\.|embeddings\.word\.))',
    ),
    ('hf', r'vision_model\.'),
    (
        'mmpretrain',
        r'((visual_encoder|vision_backbone)(_m)?\.(layers|patch_embed\.projection)\.'
        r'|(seq_gen|vqa|grounding)_head\.decoder\.|(text|multimodal)_backbone\.)',
    ),
    (
        'official',
        r'(visual_encoder(_m)?\.(blocks|patch_embed\.proj)\.'
        r'|text_(en|de)coder(_m)?\.(bert\.|cls\.|encoder\.layer\.|embeddings\.))',
    ),
]


def detect_format(state_dict: dict) -> str:
    """Name the format of a BLIP state dict from its keys (see the module docstring)."""
    keys = list(state_dict)
    for fmt, signature in _SIGNATURES:
        if any(re.match(signature, k) for k in keys):
            return fmt
    raise ValueError(
        'not a BLIP state dict: none of the known formats '
        f'{FORMATS} matches its keys (first keys: {keys[:5]})'
    )


def _apply(rules: list[Rule], rest: str) -> Optional[str]:
    for pattern, repl in rules:
        m = re.fullmatch(pattern, rest)
        if m:
            return m.expand(repl)
    return None


def _target(parts: list, key: str) -> Optional[str]:
    """This plugin's name for ``key``; '' for a dropped buffer; None when no rule maps it."""
    for src, dst, rules in parts:
        if key.startswith(src):
            rest = _apply(rules, key[len(src) :])
            if rest is not None:
                return dst + rest if rest else ''
    return None


def _check_position_ids(key: str, value: torch.Tensor) -> None:
    n = value.shape[-1]
    if value.numel() != n or not torch.equal(value.reshape(-1).long(), torch.arange(n)):
        raise ValueError(
            f'{key!r} is not arange({n}): this checkpoint uses position ids the '
            'model cannot reproduce'
        )


def _unmapped_message(fmt: str, unmapped: list) -> str:
    lines = [f'{len(unmapped)} keys of this {fmt} checkpoint have no mapping to this plugin:']
    for key in unmapped[:30]:
        why = next(
            (reason for pattern, reason in _NOT_SUPPORTED if re.match(pattern, key)),
            'no rule matches it',
        )
        lines.append(f'  {key}: {why}')
    if len(unmapped) > 30:
        lines.append(f'  ... and {len(unmapped) - 30} more')
    return '\n'.join(lines)


def convert_state_dict(
    state_dict: dict, fmt: Optional[str] = None, log: Optional[Callable[[str], None]] = None
) -> dict:
    """Map a BLIP state dict of any supported format to this plugin's names.

    Args:
        state_dict: the weights (a bare state dict).
        fmt: one of :data:`FORMATS`; None detects it.
        log: called with one line describing what was done, if given.

    Returns:
        A new dict with this plugin's keys (tensors are not copied).

    Raises:
        ValueError: keys that no rule maps, all listed with the reason where it is known; two
            sources of one target that disagree; a ``position_ids`` buffer that is not arange.
    """
    fmt = fmt or detect_format(state_dict)
    if fmt not in FORMATS:
        raise ValueError(f'unknown checkpoint format {fmt!r}; choose from {FORMATS}')
    if fmt == 'blip_plugin':
        return dict(state_dict)
    out: dict[str, torch.Tensor] = {}
    source: dict[str, str] = {}
    unmapped, dropped = [], []
    for key, value in state_dict.items():
        target = _target(_PARTS[fmt], key)
        if target is None:
            unmapped.append(key)
        elif target == '':
            _check_position_ids(key, value)
            dropped.append(key)
        elif target in out:
            if out[target].shape != value.shape or not torch.equal(out[target], value):
                raise ValueError(
                    f'{source[target]!r} and {key!r} both map to {target!r} but '
                    'hold different values'
                )
        else:
            out[target], source[target] = value, key
    if unmapped:
        raise ValueError(_unmapped_message(fmt, unmapped))
    if log is not None:
        log(
            f'converted a {fmt} BLIP checkpoint: {len(state_dict)} tensors -> {len(out)}'
            + (f' ({len(dropped)} position_ids buffers checked and skipped)' if dropped else '')
        )
    return out
