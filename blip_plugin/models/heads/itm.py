"""Image-text matching (ITM) pieces: hard-negative mining, the 2-way head's loss and
batched scoring (paper section 3.2; official models/blip_pretrain.py, blip_retrieval.py,
train_retrieval.py ``evaluation``)."""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..med.transformer import MEDCache, MEDTransformer

__all__ = ['negative_weights', 'sample_negatives', 'itm_logits', 'itm_loss']


@torch.no_grad()
def negative_weights(sim: torch.Tensor, positive: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Sampling weights of hard negatives: softmax(sim) + eps, zero at positives.

    Args:
        sim: (B, C) query-candidate similarities (already divided by the temperature).
        positive: (B, C) bool, True where a candidate must not be drawn (the pair itself;
            in retrieval every text of the same image).
        eps: added before masking; the official pre-training adds 1e-4, retrieval 0.

    A row with no allowed candidate (every candidate positive) falls back to uniform weights
    over all candidates, where the official code would fail in ``torch.multinomial``.
    """
    w = F.softmax(sim.float(), dim=1) + eps
    w = w.masked_fill(positive, 0.0)
    empty = w.sum(1) <= 0
    if bool(empty.any()):
        w[empty] = 1.0
    return w


@torch.no_grad()
def sample_negatives(
    weights: torch.Tensor, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Draw one candidate per row of ``weights`` (B, C) -> (B,) long on ``weights.device``.

    Sampling runs on the CPU with ``generator`` so that every rank, given the same global
    weights and the same generator state, draws the same negatives as one process would.
    """
    idx = torch.multinomial(weights.detach().float().cpu(), 1, generator=generator)
    return idx.squeeze(1).to(weights.device)


def itm_logits(
    text_encoder: MEDTransformer,
    itm_head: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    image_embeds: torch.Tensor,
    image_kv: Optional[list] = None,
) -> torch.Tensor:
    """ITM logits (B, 2) of texts (B, L) whose first token is ``[ENC]``.

    ``image_embeds`` (Bi, N, W) may hold fewer rows than the texts (B = r * Bi, r
    consecutive texts per image): each image's cross-attention keys/values are then computed
    once for its r texts. ``image_kv`` (from ``text_encoder.image_kv``) skips even that.
    """
    cache = MEDCache(cross_kv=image_kv) if image_kv is not None else None
    h = text_encoder(input_ids, attention_mask, image_embeds, causal=False, cache=cache)
    return itm_head(h[:, 0])  # (B, 2)


def itm_loss(logits: torch.Tensor, num_positive: int) -> torch.Tensor:
    """Cross-entropy of (B, 2) logits whose first ``num_positive`` rows are matched pairs
    and the rest negatives (official label layout: [1] * B + [0] * 2B)."""
    labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    labels[:num_positive] = 1
    return F.cross_entropy(logits.float(), labels)
