"""The NLVR2 image-grounded text encoder: one MED whose cross-attention runs on each of the two
images separately (paper section 5.3, Figure 8; official models/nlvr_encoder.py).

In every layer the text attends to image 0 and to image 1 with two cross-attention blocks
(``cross_attn0``, ``cross_attn1``, each with its own output projection). In the first half of
the layers their outputs are averaged; in the second half a linear layer
(``cross_attn_merge``, 2H -> H) merges them. Residual and LayerNorm (``cross_attn_norm``) as
in a plain MED layer. The official code hard-codes the split at layer 6 of 12; here it is
``num_layers // 2``.
"""

import dataclasses
from typing import Optional

import torch
from torch import nn

from ..med import MEDConfig, MEDTransformer
from ..med.layers import KV, MEDLayer, MultiHeadAttention

__all__ = ['NLVRLayer', 'NLVREncoder']


class NLVRLayer(MEDLayer):
    """A MED layer with one cross-attention per image of the pair.

    Args:
        cfg: the MED config (``cross_attention`` must be True).
        merge: merge the two cross-attention outputs with a linear layer instead of averaging.
    """

    def __init__(self, cfg: MEDConfig, merge: bool) -> None:
        super().__init__(dataclasses.replace(cfg, cross_attention=False))
        H = cfg.hidden_size
        self.cross_attn0 = MultiHeadAttention(H, cfg.encoder_width, cfg.num_heads, cfg.dropout)
        self.cross_attn1 = MultiHeadAttention(H, cfg.encoder_width, cfg.num_heads, cfg.dropout)
        self.cross_attn_merge = nn.Linear(2 * H, H) if merge else None
        self.cross_attn_norm = nn.LayerNorm(H, eps=cfg.layer_norm_eps)

    def cross_block(
        self, x: torch.Tensor, cross_kv: tuple[KV, KV], cross_mask: Optional[tuple] = None
    ) -> torch.Tensor:
        """x (B, T, H) attends to both images: ``cross_kv`` = (keys/values of image 0, of
        image 1); ``cross_mask`` None or a pair of bool masks (B, 1, 1, N)."""
        m0, m1 = cross_mask if cross_mask is not None else (None, None)
        h0 = self.cross_attn0(x, cross_kv[0], m0)  # (B, T, H)
        h1 = self.cross_attn1(x, cross_kv[1], m1)
        if self.cross_attn_merge is not None:
            h = self.cross_attn_merge(torch.cat([h0, h1], dim=-1))
        else:
            h = (h0 + h1) / 2
        return self.cross_attn_norm(x + self.drop(h))


class NLVREncoder(MEDTransformer):
    """MED text encoder over a pair of images: ``forward(..., image_embeds=(e0, e1))`` with
    e0, e1 (B, N, W). Everything else is :class:`MEDTransformer`'s.

    Args:
        config: a :class:`MEDConfig` or its dict (``cross_attention`` True).
    """

    def build_layers(self, cfg: MEDConfig) -> nn.ModuleList:
        if not cfg.cross_attention:
            raise ValueError('the NLVR2 encoder needs cross_attention=True')
        half = cfg.num_layers // 2
        return nn.ModuleList(NLVRLayer(cfg, merge=i >= half) for i in range(cfg.num_layers))

    def image_kv(self, image_embeds: tuple) -> list:
        """Per layer, the cross-attention keys/values of both images:
        [((k0, v0), (k1, v1)), ...] for ``image_embeds`` = (e0, e1), each (B, N, W)."""
        if not isinstance(image_embeds, (tuple, list)) or len(image_embeds) != 2:
            raise ValueError('the NLVR2 encoder attends to a pair of images: pass (e0, e1)')
        e0, e1 = image_embeds
        return [
            (layer.cross_attn0.project_kv(e0), layer.cross_attn1.project_kv(e1))
            for layer in self.layers
        ]
