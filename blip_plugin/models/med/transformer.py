"""The MED transformer: one BERT-shaped stack used as text encoder, image-grounded text
encoder and (causal) image-grounded text decoder (paper section 3.1, Figure 2)."""

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from .config import MEDConfig
from .layers import MEDLayer

__all__ = ['MEDTransformer', 'MEDCache']


@dataclass
class MEDCache:
    """Decoding state: per-layer self-attention keys/values of the tokens seen so far, per-layer
    cross-attention keys/values of the image (computed once per image, shared by its beams),
    and the text attention mask so far (B, L)."""

    self_kv: list = field(default_factory=list)
    cross_kv: Optional[list] = None
    cross_mask: Optional[torch.Tensor] = None
    attention_mask: Optional[torch.Tensor] = None

    @property
    def length(self) -> int:
        return self.self_kv[0][0].shape[2] if self.self_kv else 0

    def reorder(self, index: torch.Tensor) -> None:
        """Keep rows ``index`` (beam search's surviving beams) of the text state."""
        self.self_kv = [
            (k.index_select(0, index), v.index_select(0, index)) for k, v in self.self_kv
        ]
        if self.attention_mask is not None:
            self.attention_mask = self.attention_mask.index_select(0, index)


class MEDEmbeddings(nn.Module):
    def __init__(self, cfg: MEDConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: torch.Tensor, past_length: int = 0) -> torch.Tensor:
        T = input_ids.shape[1]
        if past_length + T > self.position.num_embeddings:
            raise ValueError(
                f'text of {past_length + T} tokens is longer than the '
                f'{self.position.num_embeddings} position embeddings'
            )
        pos = torch.arange(past_length, past_length + T, device=input_ids.device)
        return self.drop(self.norm(self.word(input_ids) + self.position(pos)))  # (B, T, H)


def _self_attn_mask(
    attention_mask: Optional[torch.Tensor], T: int, past: int, causal: bool, device: torch.device
) -> tuple[Optional[torch.Tensor], bool]:
    """Bool mask (B, 1, T or 1, L) for SDPA (True = attend), or (None, is_causal) when SDPA's
    own causal flag or no mask suffices. ``attention_mask``: (B, L), L = past + T."""
    has_pad = attention_mask is not None and not bool(attention_mask.all())
    if not causal:
        return (attention_mask[:, None, None, :].bool(), False) if has_pad else (None, False)
    if not has_pad and (past == 0 or T == 1):
        return None, past == 0 and T > 1
    L = past + T
    rows = torch.arange(past, L, device=device)[:, None]
    mask = (torch.arange(L, device=device)[None, :] <= rows)[None, None]  # (1, 1, T, L)
    if has_pad:
        mask = mask & attention_mask[:, None, None, :].bool()
    return mask, False


class MEDTransformer(nn.Module):
    """Embeddings + MED layers.

    Args:
        config: a :class:`MEDConfig` or its dict.
    """

    def __init__(self, config: 'MEDConfig | dict') -> None:
        super().__init__()
        self.config = cfg = MEDConfig.build(config)
        self.embeddings = MEDEmbeddings(cfg)
        self.layers = self.build_layers(cfg)

    def build_layers(self, cfg: MEDConfig) -> nn.ModuleList:
        """The stack's layers (a subclass may build other layer types)."""
        return nn.ModuleList(MEDLayer(cfg) for _ in range(cfg.num_layers))

    def image_kv(self, image_embeds: torch.Tensor) -> list:
        """Cross-attention keys/values of every layer for (B, N, W) image embeddings."""
        if not self.config.cross_attention:
            raise ValueError('this MED has no cross-attention layers')
        return [layer.cross_attn.project_kv(image_embeds) for layer in self.layers]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        image_embeds: Optional[torch.Tensor] = None,
        image_atts: Optional[torch.Tensor] = None,
        causal: bool = False,
        cache: Optional[MEDCache] = None,
    ) -> torch.Tensor:
        """Run the stack.

        Args:
            input_ids: (B, T) token ids.
            attention_mask: (B, T) 1 = token, 0 = padding (with ``cache``: (B, L) over the
                cached and the new tokens). None = all tokens.
            image_embeds: (Bi, N, W) image embeddings for cross-attention (B = r * Bi: r
                consecutive rows share an image). None = unimodal text encoder.
            image_atts: (Bi, N) image mask; None = all image tokens.
            causal: decoder (causal self-attention) instead of bidirectional encoder.
            cache: decoding state, updated in place (self-attention keys/values appended; its
                ``cross_kv`` used instead of ``image_embeds`` when set).

        Returns:
            (B, T, H) hidden states.
        """
        past = cache.length if cache is not None else 0
        x = self.embeddings(input_ids, past)  # (B, T, H)
        if cache is not None and attention_mask is None and cache.attention_mask is not None:
            ones = cache.attention_mask.new_ones(input_ids.shape)
            attention_mask = torch.cat([cache.attention_mask, ones], dim=1)
        if cache is not None:
            cache.attention_mask = attention_mask
        self_mask, is_causal = _self_attn_mask(
            attention_mask, input_ids.shape[1], past, causal, input_ids.device
        )
        cross_kv, cross_mask = None, None
        if cache is not None and cache.cross_kv is not None:
            cross_kv, cross_mask = cache.cross_kv, cache.cross_mask
        elif image_embeds is not None:
            cross_kv = self.image_kv(image_embeds)
            if image_atts is not None and not bool(image_atts.all()):
                cross_mask = image_atts[:, None, None, :].bool()  # (Bi, 1, 1, N)
            if cache is not None:
                cache.cross_kv, cache.cross_mask = cross_kv, cross_mask
        new_kv = []
        for i, layer in enumerate(self.layers):
            past_kv = cache.self_kv[i] if cache is not None and cache.self_kv else None
            x, kv = layer(
                x,
                self_mask,
                is_causal,
                past_kv,
                cross_kv[i] if cross_kv is not None else None,
                cross_mask,
            )
            new_kv.append(kv)
        if cache is not None:
            cache.self_kv = new_kv
        return x
