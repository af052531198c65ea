"""The CapFilt captioner: K synthetic captions per web image (paper section 3.4).

The paper generates synthetic captions with nucleus sampling (p = 0.9), which it finds
better than beam search for bootstrapping because the captions are more diverse (section
4.3, Table 2). Generation semantics are :meth:`BlipCaption.generate_captions`' (official
``BLIP_Decoder.generate``): the prompt ``'a picture of '`` conditions the decoder and is
stripped from the output, lengths count the prompt, and sampling uses the official
repetition penalty 1.1.

Sampling is deterministic per image: image ``index`` draws its tokens from uniforms of its
own generator, seeded from ``(seed, index)``, so a caption does not depend on the batch,
shard, rank or run that produced it (a resumed run equals an uninterrupted one).
"""

from typing import Optional

import numpy as np
import torch

from ..models.blip.caption import BlipCaption

__all__ = ['Captioner', 'image_seed']

STRATEGIES = ('sample', 'beam', 'greedy')


def image_seed(seed: int, index: int) -> int:
    """A 63-bit seed for image ``index`` of a run seeded with ``seed`` (well mixed, so nearby
    indices get unrelated streams)."""
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


class Captioner:
    """Synthetic captions from a :class:`BlipCaption` model.

    Args:
        model: the captioner (fine-tuned on COCO with the LM loss in the paper).
        num_captions: synthetic captions per image (K). Defaults to 1 (paper).
        strategy: 'sample' (nucleus), 'beam' or 'greedy'. Defaults to 'sample'.
        top_p: nucleus mass of 'sample'. Defaults to 0.9 (paper).
        num_beams: beams of 'beam' (>= num_captions). Defaults to 3.
        max_length: longest caption, prompt tokens included. Defaults to 30 (official
            ``generate``).
        min_length: shortest caption, prompt tokens included. Defaults to 10 (official).
        seed: base seed of the per-image samplers. Defaults to 0.
        **generation: other kwargs of :func:`blip_plugin.models.generation.generate`
            (e.g. ``repetition_penalty``, ``top_k``).
    """

    def __init__(
        self,
        model: BlipCaption,
        num_captions: int = 1,
        strategy: str = 'sample',
        top_p: float = 0.9,
        num_beams: int = 3,
        max_length: int = 30,
        min_length: int = 10,
        seed: int = 0,
        **generation,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f'capfilt.strategy must be one of {STRATEGIES}, got {strategy!r}')
        if num_captions < 1:
            raise ValueError(f'capfilt.num_captions must be >= 1, got {num_captions}')
        if strategy == 'greedy' and num_captions != 1:
            raise ValueError('capfilt.strategy greedy gives one caption per image (num_captions=1)')
        if strategy == 'beam' and num_beams < num_captions:
            raise ValueError(
                f'capfilt.num_beams ({num_beams}) must be >= num_captions ({num_captions})'
            )
        self.model = model
        self.num_captions = num_captions
        self.strategy = strategy
        self.seed = seed
        self.max_length = max_length
        self.kwargs = dict(
            strategy=strategy,
            max_length=max_length,
            min_length=min_length,
            num_return_sequences=num_captions,
            **generation,
        )
        if strategy == 'sample':
            self.kwargs['top_p'] = top_p
        if strategy == 'beam':
            self.kwargs['num_beams'] = num_beams

    def _uniforms(self, indices: list) -> torch.Tensor:
        """(B * K, steps) uniforms, K rows per image from the image's own generator."""
        steps = self.max_length - self.model.prompt_length  # the prompt ids: [DEC] + prompt
        rows = []
        for index in indices:
            gen = torch.Generator().manual_seed(image_seed(self.seed, index))
            rows.append(torch.rand(self.num_captions, steps, generator=gen, dtype=torch.float64))
        return torch.cat(rows)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, indices: Optional[list] = None) -> list:
        """Caption normalised images (B, 3, H, W).

        Args:
            images: the batch, as the model's data preprocessor gives it.
            indices: each image's index in the source (seeds 'sample'); needed for 'sample'.

        Returns:
            B lists of K captions (the prompt stripped).
        """
        kwargs = dict(self.kwargs)
        if self.strategy == 'sample':
            if indices is None or len(indices) != images.shape[0]:
                raise ValueError('sampling needs one source index per image (indices)')
            kwargs['uniforms'] = self._uniforms(list(indices))
        captions = self.model.generate_captions(images, **kwargs)
        if self.num_captions == 1:
            captions = [[c] for c in captions]
        return [[c.strip() for c in caps] for caps in captions]
