import pytest
import torch

from blip_plugin.models.blip.nlvr_convert import convert_nlvr_state_dict, duplicate_cross_attention


def _official_nlvr_state_dict(layers: int = 2, dim: int = 8) -> dict:
    """A random state dict in the official blip_nlvr.py / nlvr_encoder.py layout."""
    sd = {
        'visual_encoder.cls_token': torch.randn(1, 1, dim),
        'visual_encoder.pos_embed': torch.randn(1, 5, dim),
        'visual_encoder.patch_embed.proj.weight': torch.randn(dim, 3, 2, 2),
        'visual_encoder.patch_embed.proj.bias': torch.randn(dim),
        'visual_encoder.norm.weight': torch.randn(dim),
        'visual_encoder.norm.bias': torch.randn(dim),
        'text_encoder.embeddings.word_embeddings.weight': torch.randn(30, dim),
        'text_encoder.embeddings.position_embeddings.weight': torch.randn(16, dim),
        'text_encoder.embeddings.LayerNorm.weight': torch.randn(dim),
        'text_encoder.embeddings.LayerNorm.bias': torch.randn(dim),
        'text_encoder.embeddings.position_ids': torch.arange(16)[None],
        'cls_head.0.weight': torch.randn(dim, dim),
        'cls_head.0.bias': torch.randn(dim),
        'cls_head.2.weight': torch.randn(2, dim),
        'cls_head.2.bias': torch.randn(2),
    }
    for i in range(layers):
        p = f'text_encoder.encoder.layer.{i}.'
        names = [
            'attention.self.query',
            'attention.self.key',
            'attention.self.value',
            'attention.output.dense',
            'attention.output.LayerNorm',
            'crossattention.output.LayerNorm',
            'intermediate.dense',
            'output.dense',
            'output.LayerNorm',
        ]
        for side in '01':
            names += [
                f'crossattention.self{side}.query',
                f'crossattention.self{side}.key',
                f'crossattention.self{side}.value',
                f'crossattention.output.dense{side}',
            ]
        if i >= layers // 2:
            names.append('crossattention.output.merge_layer')
        for n in names:
            sd[p + n + '.weight'] = torch.randn(dim)
            sd[p + n + '.bias'] = torch.randn(dim)
    return sd


def test_convert_official_nlvr_maps_every_key() -> None:
    sd = _official_nlvr_state_dict()
    out = convert_nlvr_state_dict(sd)
    assert len(out) == len(sd) - 1  # position_ids dropped
    w = sd['text_encoder.encoder.layer.1.crossattention.self1.key.weight']
    assert torch.equal(out['text_encoder.layers.1.cross_attn1.k.weight'], w)
    w = sd['text_encoder.encoder.layer.0.crossattention.output.dense0.bias']
    assert torch.equal(out['text_encoder.layers.0.cross_attn0.out.bias'], w)
    assert 'text_encoder.layers.1.cross_attn_merge.weight' in out
    assert 'text_encoder.layers.0.cross_attn_norm.weight' in out
    assert 'vision_encoder.cls_token' in out and 'cls_head.2.bias' in out


def test_convert_official_nlvr_names_unknown_key() -> None:
    sd = _official_nlvr_state_dict()
    sd['text_encoder.encoder.layer.0.crossattention.self2.query.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='self2'):
        convert_nlvr_state_dict(sd)


def test_duplicate_cross_attention() -> None:
    sd = {
        'text_encoder.layers.0.cross_attn.q.weight': torch.randn(4, 4),
        'text_encoder.layers.0.cross_attn_norm.weight': torch.randn(4),
    }
    out = duplicate_cross_attention(sd)
    for side in '01':
        assert torch.equal(
            out[f'text_encoder.layers.0.cross_attn{side}.q.weight'],
            sd['text_encoder.layers.0.cross_attn.q.weight'],
        )
    assert 'text_encoder.layers.0.cross_attn_norm.weight' in out
    assert 'text_encoder.layers.0.cross_attn.q.weight' not in out
