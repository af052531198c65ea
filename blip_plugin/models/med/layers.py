"""MED building blocks: BERT post-LN layers with self-attention, cross-attention and FFN.

Per layer (official models/med.py BertLayer): self-attention -> cross-attention to the image
(multimodal modes only) -> FFN, each followed by dropout, residual and LayerNorm.
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..linear import Linear
from .config import MEDConfig

KV = tuple[torch.Tensor, torch.Tensor]


class MultiHeadAttention(nn.Module):
    """Multi-head attention whose keys/values may come from another width (the image).

    Args:
        dim: query width.
        kv_width: key/value input width.
        num_heads: heads.
        dropout: attention-probability dropout.
    """

    def __init__(self, dim: int, kv_width: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.q = Linear(dim, dim)
        self.k = Linear(kv_width, dim)
        self.v = Linear(kv_width, dim)
        self.out = Linear(dim, dim)
        self.dropout = dropout

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)

    def project_kv(self, x: torch.Tensor) -> KV:
        """Keys and values of ``x`` (B, S, kv_width) -> 2 x (B, nh, S, hs)."""
        return self._heads(self.k(x)), self._heads(self.v(x))

    def forward(
        self, x: torch.Tensor, kv: KV, mask: Optional[torch.Tensor] = None, is_causal: bool = False
    ) -> torch.Tensor:
        """Attend from ``x`` (B, T, dim) to precomputed ``kv``.

        ``kv`` may hold fewer rows than ``x`` (B = r * Bk, rows grouped consecutively: the r
        beams or texts of one image): the r query sets then share one copy of the image's
        keys/values, stacked along the query axis, instead of r copies.
        ``mask``: bool (B or Bk, 1, T or 1, S), True = attend.
        """
        B, T, C = x.shape
        k, v = kv
        q = self._heads(self.q(x))  # (B, nh, T, hs)
        Bk = k.shape[0]
        drop = self.dropout if self.training else 0.0
        if Bk != B:
            r = B // Bk
            if r * Bk != B or is_causal:
                raise ValueError(f'cannot share keys of {Bk} rows among {B} queries')
            q = q.view(Bk, r, self.num_heads, T, self.head_dim).transpose(1, 2)
            q = q.reshape(Bk, self.num_heads, r * T, self.head_dim)  # (Bk, nh, r*T, hs)
            if mask is not None and mask.shape[0] != Bk:
                raise ValueError('a shared key/value set needs a per-image mask')
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
            y = y.view(Bk, self.num_heads, r, T, self.head_dim).transpose(1, 2)
            y = y.reshape(B, self.num_heads, T, self.head_dim)  # (B, nh, T, hs)
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=drop, is_causal=is_causal
            )  # (B, nh, T, hs)
        return self.out(y.transpose(1, 2).reshape(B, T, C))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = Linear(dim, hidden)
        self.fc2 = Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x, gelu=True))


class MEDLayer(nn.Module):
    """One MED layer. Submodules are attributes so that parameter sharing between the encoder
    and the decoder (paper section 3.3) is plain module assignment."""

    def __init__(self, cfg: MEDConfig) -> None:
        super().__init__()
        H, eps = cfg.hidden_size, cfg.layer_norm_eps
        self.self_attn = MultiHeadAttention(H, H, cfg.num_heads, cfg.dropout)
        self.self_attn_norm = nn.LayerNorm(H, eps=eps)
        if cfg.cross_attention:
            self.cross_attn = MultiHeadAttention(H, cfg.encoder_width, cfg.num_heads, cfg.dropout)
            self.cross_attn_norm = nn.LayerNorm(H, eps=eps)
        self.ffn = FeedForward(H, cfg.intermediate_size)
        self.ffn_norm = nn.LayerNorm(H, eps=eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: torch.Tensor,
        self_mask: Optional[torch.Tensor],
        is_causal: bool,
        past_kv: Optional[KV] = None,
        cross_kv: Optional[KV] = None,
        cross_mask: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, KV]:
        """x: (B, T, H). Returns the new x and this layer's self-attention keys/values over the
        whole visible text (``past_kv`` + the new tokens), for a decoding cache."""
        k, v = self.self_attn.project_kv(x)  # 2 x (B, nh, T, hs)
        if past_kv is not None:
            k, v = torch.cat([past_kv[0], k], dim=2), torch.cat([past_kv[1], v], dim=2)
        x = self.self_attn_norm(x + self.drop(self.self_attn(x, (k, v), self_mask, is_causal)))
        if cross_kv is not None:
            x = self.cross_block(x, cross_kv, cross_mask)
        return self.ffn_norm(x + self.drop(self.ffn(x))), (k, v)

    def cross_block(
        self, x: torch.Tensor, cross_kv: KV, cross_mask: Optional[torch.Tensor]
    ) -> torch.Tensor:
        """Cross-attention to the image, residual and LayerNorm: (B, T, H) -> (B, T, H)."""
        return self.cross_attn_norm(x + self.drop(self.cross_attn(x, cross_kv, cross_mask)))
