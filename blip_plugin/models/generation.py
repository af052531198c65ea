"""Text generation over the MED decoder (placeholder greedy; beam search and nucleus sampling
land next with the same signature)."""
from typing import Optional

import torch

from .med.decoder import MEDDecoder
from .med.transformer import MEDCache

__all__ = ['generate']


@torch.no_grad()
def generate(decoder: MEDDecoder, input_ids: torch.Tensor, image_embeds: torch.Tensor, *,
             eos_token_id: int, pad_token_id: int, strategy: str = 'beam', num_beams: int = 3,
             max_length: int = 20, min_length: int = 5, top_p: float = 0.9,
             temperature: float = 1.0, repetition_penalty: float = 1.0,
             length_penalty: float = 1.0, num_return_sequences: int = 1,
             image_atts: Optional[torch.Tensor] = None,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
    cache = MEDCache()
    logits = decoder(input_ids, image_embeds=image_embeds, image_atts=image_atts, cache=cache)
    out = input_ids
    done = torch.zeros(len(out), dtype=torch.bool, device=out.device)
    while out.shape[1] < max_length:
        nxt = logits[:, -1].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, pad_token_id), nxt)
        out = torch.cat([out, nxt[:, None]], 1)
        done |= nxt == eos_token_id
        if done.all():
            break
        logits = decoder(nxt[:, None], cache=cache)
    return out
