"""The CapFilt filter: ITM match probability of each web text and synthetic caption
(paper section 3.4).

"The filter removes noisy texts in both the original web texts and the synthetic texts, where
a text is considered to be noisy if the ITM head predicts it as unmatched to the image." The
ITM head is a 2-way classifier, so "predicts matched" is ``p(match) > 0.5``: a text is kept
when its match probability exceeds ``threshold`` (0.5 gives the paper's rule; a tie counts as
unmatched, as an argmax over (unmatched, matched) does).
"""

import torch

from ..datasets.transforms.clean_caption import pre_caption
from ..models.blip.retrieval import BlipRetrieval

__all__ = ['CapFilter', 'is_kept']


def is_kept(text: str, score: float, threshold: float) -> bool:
    """The filter's rule: keep a non-empty text whose match probability exceeds ``threshold``."""
    return bool(text.strip()) and score > threshold


class CapFilter:
    """Match probabilities from a :class:`BlipRetrieval` model (fine-tuned on COCO with ITC
    and ITM in the paper).

    Args:
        model: the filter model.
        threshold: keep a text when ``p(match) > threshold``. Defaults to 0.5 (paper).
        max_words: texts are cleaned as the training data are (:func:`pre_caption`) and cut
            to this many words before scoring. Defaults to 30 (official pre-training).
    """

    def __init__(self, model: BlipRetrieval, threshold: float = 0.5, max_words: int = 30) -> None:
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f'capfilt.threshold must be in [0, 1), got {threshold}')
        self.model = model
        self.threshold = threshold
        self.max_words = max_words

    def keep(self, text: str, score: float) -> bool:
        """Whether a text with match probability ``score`` stays; empty texts never do."""
        return is_kept(text, score, self.threshold)

    @torch.no_grad()
    def scores(self, images: torch.Tensor, texts: list) -> list:
        """Match probabilities of each image's texts.

        Args:
            images: (B, 3, H, W) normalised images.
            texts: B lists of texts (any lengths).

        Returns:
            B lists of floats, one per text.
        """
        if len(texts) != images.shape[0]:
            raise ValueError(f'{images.shape[0]} images but {len(texts)} lists of texts')
        r = max(len(t) for t in texts)
        # itm_score takes r consecutive texts per image (each image encoded once): pad with ''
        flat = [pre_caption(t, self.max_words) for ts in texts for t in ts + [''] * (r - len(ts))]
        probs = self.model.itm_score(images, flat).view(len(texts), r).tolist()  # (B, r)
        return [row[: len(ts)] for row, ts in zip(probs, texts)]
