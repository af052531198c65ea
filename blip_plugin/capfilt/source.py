"""Where CapFilt reads web pairs from.

The runner needs two things of a source: its length and the pairs of an index range
(``read(start, stop)``), so that shards are fixed by index and a re-run finds the same
pairs in the same shard. :class:`AnnotationSource` reads the official annotation lists
(``[{"image": path, "caption": str}]``, JSON or JSON lines, as :class:`WebPairs`);
:class:`IterableSource` adapts any iterator of ``(key, image, caption)`` (e.g. a tar-shard
reader) whose order is stable between runs.
"""

import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

from ..datasets.web_pairs import read_annotations

__all__ = ['WebPair', 'PairSource', 'AnnotationSource', 'IterableSource']


@dataclass
class WebPair:
    """One web image with its web text(s).

    Args:
        index: position in the source (0-based); seeds, shards and the output order use it.
        key: the image as the output names it (the annotation's ``image`` field, unjoined).
        image: what to load: a file path, a PIL image or a BGR uint8 array.
        captions: the web texts of the image (usually one).
        where: the annotation's location for error messages (file and annotation / line).
    """

    index: int
    key: str
    image: Any
    captions: tuple
    where: str


class PairSource(Protocol):
    """What :func:`blip_plugin.capfilt.run_capfilt` reads."""

    name: str

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> Iterator[WebPair]: ...


def _captions(value: Any, where: str) -> tuple:
    captions = (value,) if isinstance(value, str) else tuple(value)
    if not captions or not all(isinstance(c, str) for c in captions):
        raise ValueError(f'{where}: "caption" must be a string or a list of strings: {value!r}')
    return captions


class AnnotationSource:
    """Web pairs from an annotation list (``.json`` list or ``.jsonl``).

    Args:
        ann_file: the annotation file.
        image_root: joined before relative image paths to load them; the output keeps the
            paths as written. Defaults to ''.
    """

    def __init__(self, ann_file: str, image_root: str = '') -> None:
        self.name = ann_file
        self.image_root = image_root
        self.anns = read_annotations(ann_file)
        self._jsonl = ann_file.endswith('.jsonl')
        for n, ann in enumerate(self.anns):
            if not isinstance(ann, dict) or 'image' not in ann or 'caption' not in ann:
                raise KeyError(f'{self._where(n)}: needs "image" and "caption"; got {ann!r}')

    def _where(self, n: int) -> str:
        return f'{self.name} line {n + 1}' if self._jsonl else f'{self.name} annotation {n}'

    def __len__(self) -> int:
        return len(self.anns)

    def read(self, start: int, stop: int) -> Iterator[WebPair]:
        for n in range(start, min(stop, len(self.anns))):
            ann, where = self.anns[n], self._where(n)
            key = ann['image']
            path = key if os.path.isabs(key) else os.path.join(self.image_root, key)
            yield WebPair(n, key, path, _captions(ann['caption'], where), where)


class IterableSource:
    """Web pairs from a re-iterable stream of ``(key, image, caption)`` tuples, where image is
    a path, PIL image or BGR array and caption a string or list of strings. The stream must
    give the same order every time it is opened (shards are index ranges of it).

    Args:
        open_stream: returns a fresh iterator over the pairs.
        length: how many pairs the stream has; None counts them with one pass.
        name: the source's name in messages. Defaults to 'stream'.
    """

    def __init__(
        self,
        open_stream: Callable[[], Iterable[tuple]],
        length: Optional[int] = None,
        name: str = 'stream',
    ) -> None:
        self.name = name
        self.open_stream = open_stream
        self.length = sum(1 for _ in open_stream()) if length is None else length

    def __len__(self) -> int:
        return self.length

    def read(self, start: int, stop: int) -> Iterator[WebPair]:
        stream = itertools.islice(self.open_stream(), start, min(stop, self.length))
        for n, item in enumerate(stream, start):
            key, image, caption = item
            where = f'{self.name} item {n} ({key})'
            yield WebPair(n, str(key), image, _captions(caption, where), where)
