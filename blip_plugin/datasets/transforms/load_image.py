"""Image loading whose failures name the file and the annotation: fail fast, or skip counted."""

from typing import Any, Optional

from mmcv.transforms import LoadImageFromFile
from mmengine.logging import MMLogger

from blip_plugin.registry import TRANSFORMS

__all__ = ['BlipLoadImage', 'UnreadableImageError']

_SHOWN_KEYS = ('gt_caption', 'text', 'question', 'image_id', 'image_idx', 'text_idx', 'ann_id')


class UnreadableImageError(OSError):
    """An image file is missing or cannot be decoded (the message names file and annotation)."""


def describe_annotation(results: dict, limit: int = 200) -> str:
    """A short description of the annotation that asked for the image."""
    shown = {k: results[k] for k in _SHOWN_KEYS if k in results}
    text = repr(shown) if shown else repr({k: v for k, v in results.items() if k != 'img'})
    text = text if len(text) <= limit else text[: limit - 3] + '...'
    idx = results.get('sample_idx')
    return f'sample {idx} {text}' if idx is not None else text


@TRANSFORMS.register_module()
class BlipLoadImage(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with a deliberate choice for unreadable images.

    A missing, empty or corrupt image file raises :class:`UnreadableImageError` naming the
    file, the reason and the annotation that asked for it (``on_error='raise'``, the default),
    or, with ``on_error='skip'``, logs a warning saying the same plus how many images this
    process has skipped so far, and returns ``None``; MMEngine's ``BaseDataset`` then draws
    another sample (training only: a test-mode dataset refuses ``None``, so evaluation never
    skips silently). ``LoadImageFromFile`` stays usable as it was; this adds the choice.

    Args:
        on_error: ``'raise'`` or ``'skip'``. Defaults to ``'raise'``.
        **kwargs: see :class:`mmcv.transforms.LoadImageFromFile` (``ignore_empty`` is
            replaced by ``on_error``).
    """

    def __init__(self, on_error: str = 'raise', **kwargs: Any) -> None:
        if on_error not in ('raise', 'skip'):
            raise ValueError(f"BlipLoadImage: on_error must be 'raise' or 'skip', got {on_error!r}")
        if kwargs.pop('ignore_empty', False):
            raise ValueError("BlipLoadImage: use on_error='skip' instead of ignore_empty=True")
        super().__init__(**kwargs)
        self.on_error = on_error
        self.skipped = 0

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path')
        try:
            return super().transform(results)
        except Exception as e:  # missing (FileNotFoundError), empty or undecodable file
            reason = 'file not found' if isinstance(e, FileNotFoundError) else str(e) or repr(e)
            message = (
                f'cannot read image {path!r} ({reason}), asked for by annotation '
                f'{describe_annotation(results)}'
            )
            if self.on_error == 'raise':
                raise UnreadableImageError(
                    f"{message}. Fix or remove it, or set on_error='skip' in BlipLoadImage "
                    'to skip such samples (counted in the log).'
                ) from e
            self.skipped += 1
            MMLogger.get_current_instance().warning(
                f'{message}: skipped ({self.skipped} unreadable images skipped so far '
                'in this process).'
            )
            return None

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", on_error='{self.on_error}')"
