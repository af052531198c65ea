"""The image-grounded text decoder: the MED run causally, with a BERT LM head."""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS
from ..linear import Linear
from .config import MEDConfig
from .transformer import MEDCache, MEDTransformer

__all__ = ['MEDDecoder', 'LMHead']


class LMHead(nn.Module):
    """BERT's prediction head: dense -> GELU -> LayerNorm -> vocabulary projection."""

    def __init__(self, cfg: MEDConfig) -> None:
        super().__init__()
        self.dense = Linear(cfg.hidden_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.decoder = Linear(cfg.hidden_size, cfg.vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(self.dense(x, gelu=True)))  # (..., V)


@MODELS.register_module()
class MEDDecoder(nn.Module):
    """Image-grounded text decoder (``[DEC]``): causal MED + LM head.

    Args:
        config: a :class:`MEDConfig` or its dict.
        label_smoothing: of the LM loss; the official model uses 0.1. Defaults to 0.1.
    """

    def __init__(self, config: 'MEDConfig | dict', label_smoothing: float = 0.1) -> None:
        super().__init__()
        self.transformer = MEDTransformer(config)
        self.config = self.transformer.config
        self.lm_head = LMHead(self.config)
        self.label_smoothing = label_smoothing
        self.init_weights()

    def init_weights(self) -> None:
        """BERT init (normal 0.02, zero bias, unit LayerNorm), then tie the output matrix."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.tie_weights()

    def tie_weights(self) -> None:
        if self.config.tie_word_embeddings:
            self.lm_head.decoder.weight = self.transformer.embeddings.word.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        image_embeds: Optional[torch.Tensor] = None,
        image_atts: Optional[torch.Tensor] = None,
        cache: Optional[MEDCache] = None,
    ) -> torch.Tensor:
        """Next-token logits (B, T, V) for every position; arguments as MEDTransformer's."""
        h = self.transformer(
            input_ids, attention_mask, image_embeds, image_atts, causal=True, cache=cache
        )
        return self.lm_head(h)

    def loss(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_embeds: torch.Tensor,
        labels: torch.Tensor,
        image_atts: Optional[torch.Tensor] = None,
        reduction: str = 'mean',
    ) -> torch.Tensor:
        """Label-smoothed LM loss of predicting ``labels[:, 1:]`` from the tokens before.

        Args:
            labels: (B, T) target ids, -100 where nothing is predicted (prompt, padding).
            reduction: 'mean' over predicted tokens, or 'none' for a per-sequence sum (B,)
                (the official VQA answer loss).

        The vocabulary projection runs only at predicted positions (same loss, less work).
        """
        h = self.transformer(input_ids, attention_mask, image_embeds, image_atts, causal=True)
        h, target = h[:, :-1], labels[:, 1:]  # shift: position t predicts token t + 1
        keep = target != -100  # (B, T-1)
        logits = self.lm_head(h[keep])  # (K, V)
        tok = F.cross_entropy(
            logits.float(), target[keep], reduction='none', label_smoothing=self.label_smoothing
        )  # (K,)
        if reduction == 'mean':
            return tok.sum() / keep.sum().clamp(min=1)
        if reduction == 'none':
            per_seq = tok.new_zeros(target.shape)
            per_seq[keep] = tok
            return per_seq.sum(1)
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
