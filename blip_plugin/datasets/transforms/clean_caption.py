"""Caption cleaning as the official BLIP ``pre_caption`` (data/utils.py)."""

import re
from typing import List, Sequence, Union

from mmcv.transforms import BaseTransform

from blip_plugin.registry import TRANSFORMS

__all__ = ['BlipCleanCaption', 'pre_caption']

# The official regexes: these characters become spaces, then runs of whitespace collapse.
_PUNCTUATION = re.compile(r'([.!\"()*#:;~])')
_SPACES = re.compile(r'\s{2,}')


def pre_caption(caption: str, max_words: int = 50) -> str:
    """Lowercase, replace ``.!"()*#:;~`` by spaces, collapse whitespace, keep ``max_words``.

    Follows BLIP's ``data/utils.py::pre_caption`` exactly; other punctuation (``,?'-``) is
    kept, for the tokenizer to split.
    """
    caption = _PUNCTUATION.sub(' ', caption.lower())
    caption = _SPACES.sub(' ', caption)
    caption = caption.rstrip('\n').strip(' ')
    words = caption.split(' ')
    if len(words) > max_words:
        caption = ' '.join(words[:max_words])
    return caption


@TRANSFORMS.register_module()
class BlipCleanCaption(BaseTransform):
    """Clean captions as the official BLIP ``pre_caption``.

    Lowercases, replaces the characters ``.!"()*#:;~`` by spaces, collapses runs of whitespace,
    strips and keeps the first ``max_words`` words. Unlike mmpretrain's ``CleanCaption`` (which
    deletes all punctuation and never truncates), the output matches the official data
    pipeline, so text fed to the tokenizer matches too.

    **Required keys:** ``keys``. **Modified keys:** ``keys``.

    Args:
        keys: the result keys holding a caption (str) or captions (list of str).
            Defaults to 'gt_caption'.
        max_words: words kept per caption; official: 30 for captioning and retrieval
            fine-tuning, 50 by default. Defaults to 50.
    """

    def __init__(self, keys: Union[str, Sequence[str]] = 'gt_caption', max_words: int = 50) -> None:
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        if max_words < 1:
            raise ValueError(f'max_words must be >= 1, got {max_words}')
        self.max_words = max_words

    def transform(self, results: dict) -> dict:
        """Clean every caption under ``self.keys``."""
        for key in self.keys:
            if key not in results:
                raise KeyError(
                    f'BlipCleanCaption: no {key!r} in the sample (keys: {sorted(results)})'
                )
            results[key] = self._clean(results[key], key)
        return results

    def _clean(self, value: Union[str, Sequence[str]], key: str) -> Union[str, List[str]]:
        if isinstance(value, str):
            return pre_caption(value, self.max_words)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return [pre_caption(v, self.max_words) for v in value]
        raise TypeError(f'BlipCleanCaption: {key!r} must be a str or a list of str, got {value!r}')

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys}, max_words={self.max_words})'
