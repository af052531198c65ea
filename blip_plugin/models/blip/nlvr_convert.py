"""State-dict mappings for the official BLIP NLVR2 model (models/blip_nlvr.py, nlvr_encoder.py).

The official NLVR2 text encoder splits each cross-attention into two (one per image):
``crossattention.self0/self1`` (query/key/value), ``crossattention.output.dense0/dense1``
and, in the second half of the layers, ``crossattention.output.merge_layer``. Targets here:
``text_encoder.layers.N.cross_attn{0,1}.{q,k,v,out}``, ``text_encoder.layers.N.cross_attn_merge``
and ``text_encoder.layers.N.cross_attn_norm``; ``cls_head.{0,2}`` keeps its name.
"""

import re

import torch

from blip_plugin.models.convert import _WB, BERT, VIT_OFFICIAL, Rule

__all__ = ['NLVR_BERT', 'NLVR_PARTS', 'convert_nlvr_state_dict', 'duplicate_cross_attention']

_QKV = {'query': 'q', 'key': 'k', 'value': 'v'}
_LAYER = r'encoder\.layer\.(\d+)\.crossattention\.'
NLVR_BERT: list[tuple[str, str | None]] = [  # None: expanded by _nlvr_rest
    (_LAYER + r'self([01])\.(query|key|value)\.' + _WB, None),
    (_LAYER + r'output\.dense([01])\.' + _WB, r'layers.\1.cross_attn\2.out.\3'),
    (_LAYER + r'output\.merge_layer\.' + _WB, r'layers.\1.cross_attn_merge.\2'),
]
_CLS_HEAD: list[Rule] = [(r'cls_head\.([02])\.' + _WB, r'cls_head.\1.\2')]

# (source prefix, target prefix, rules) in convert.py's _PARTS layout, for the lead to plug in.
NLVR_PARTS = [
    ('visual_encoder.', 'vision_encoder.', VIT_OFFICIAL),
    ('text_encoder.', 'text_encoder.', NLVR_BERT),
    ('text_encoder.', 'text_encoder.', BERT),
    ('', '', _CLS_HEAD),
]


def _nlvr_rest(rules: list, rest: str) -> str | None:
    for pattern, repl in rules:
        m = re.fullmatch(pattern, rest)
        if m is None:
            continue
        if repl is None:  # self{0,1}.{query,key,value} -> cross_attn{0,1}.{q,k,v}
            layer, side, qkv, wb = m.groups()
            return f'layers.{layer}.cross_attn{side}.{_QKV[qkv]}.{wb}'
        return m.expand(repl)
    return None


def convert_nlvr_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert an official ``model_base_nlvr.pth`` state dict to this plugin's names.

    Args:
        state_dict: the official checkpoint's ``model`` dict.

    Returns:
        A new dict with this plugin's names. ``embeddings.position_ids`` buffers are checked
        to hold ``arange(n)`` and dropped.

    Raises:
        KeyError: naming every key no rule maps.
    """
    out: dict[str, torch.Tensor] = {}
    unmapped = []
    for key, value in state_dict.items():
        target = None
        for src, dst, rules in NLVR_PARTS:
            if key.startswith(src):
                rest = _nlvr_rest(rules, key[len(src) :])
                if rest is not None:
                    target = dst + rest if rest else ''
                    break
        if target is None:
            unmapped.append(key)
        elif target == '':
            n = value.shape[-1]
            if not torch.equal(value.reshape(-1).long(), torch.arange(n)):
                raise ValueError(f'{key!r} is not arange({n})')
        else:
            if target in out:
                raise KeyError(f'two keys map to {target!r}')
            out[target] = value
    if unmapped:
        raise KeyError(f'official NLVR2 keys with no rule: {sorted(unmapped)}')
    return out


def duplicate_cross_attention(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Initialise the twin cross-attention from a pre-trained (single) one.

    Follows the official ``blip_nlvr.load_checkpoint``: each ``cross_attn.{q,k,v,out}`` of a
    pre-trained checkpoint (already in this plugin's names) is copied to ``cross_attn0`` and
    ``cross_attn1``; ``cross_attn_merge`` and ``cls_head`` stay randomly initialised.

    Args:
        state_dict: a pre-trained state dict in this plugin's names.

    Returns:
        A new dict with the single cross-attention replaced by two copies.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        m = re.fullmatch(r'(.*\.layers\.\d+\.)cross_attn\.(q|k|v|out)\.' + _WB, key)
        if m is None:
            out[key] = value
            continue
        for side in '01':
            out[f'{m[1]}cross_attn{side}.{m[2]}.{m[3]}'] = value.clone()
    return out
