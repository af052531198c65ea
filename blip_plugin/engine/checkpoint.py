"""Checkpoint files: atomic writes, weights-only reads, and the weight-loading seam.

Every file this project writes loads with ``torch.load(path, weights_only=True)``: the
runner converts its state with :func:`~blip_plugin.engine.safe_state.to_safe` first. A
checkpoint written by plain MMEngine holds pickled ``HistoryBuffer`` and numpy objects and
is refused with a message naming :func:`upgrade_legacy_checkpoint`.

Command line (for a legacy file you trust)::

    python -m blip_plugin.engine.checkpoint --trust-pickle OLD.pth NEW.pth
"""

import argparse
import os
import re
import tempfile
from typing import Any, Optional, Union

import torch
from mmengine.logging import MMLogger
from torch import nn

from .safe_state import to_safe

__all__ = [
    'atomic_save',
    'atomic_write_text',
    'load_checkpoint_file',
    'load_weights',
    'upgrade_legacy_checkpoint',
    'LegacyCheckpointError',
]


class LegacyCheckpointError(RuntimeError):
    """A checkpoint that cannot be read with ``weights_only=True``."""


def _fsync_dir(dirname: str) -> None:
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: str, write: Any) -> None:
    """Write through ``write(file)`` into a temp file beside ``path``, fsync, then rename."""
    dirname = os.path.dirname(os.path.abspath(path))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.tmp', dir=dirname)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(dirname)


def atomic_save(obj: Any, path: str) -> None:
    """``torch.save(obj, path)`` such that ``path`` is either the old file or the whole new one."""
    _atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(text: str, path: str) -> None:
    """Replace the text file ``path`` atomically (e.g. ``work_dir/last_checkpoint``)."""
    _atomic_write(path, lambda f: f.write(text.encode()))


def load_checkpoint_file(path: str, map_location: Any = 'cpu') -> Any:
    """Read ``path`` with ``torch.load(weights_only=True)``; never unpickles other objects.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        LegacyCheckpointError: the file needs arbitrary unpickling (e.g. written by plain
            MMEngine, whose checkpoints hold ``HistoryBuffer`` and numpy objects).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        if isinstance(e, torch.serialization.pickle.UnpicklingError) or 'weights_only' in str(e):
            found = re.findall(r'GLOBAL ([\w.]+)', str(e))
            raise LegacyCheckpointError(
                f'{path} cannot be read with torch.load(weights_only=True): it holds pickled '
                f'python objects{" (" + found[0] + ")" if found else ""}, as checkpoints '
                'written by plain MMEngine do (HistoryBuffer, numpy). This project never '
                'unpickles arbitrary objects. If you trust the file, convert it once with\n'
                f'  python -m blip_plugin.engine.checkpoint --trust-pickle {path} NEW.pth\n'
                'and resume / load from NEW.pth.'
            ) from e
        raise


def load_weights(
    model: nn.Module,
    checkpoint: Union[str, dict],
    strict: bool = False,
    logger: Optional[MMLogger] = None,
) -> dict:
    """Load model weights (``load_from``) with ``weights_only=True``.

    Reads this project's checkpoints, official BLIP / LAVIS ``.pth`` files, mmpretrain's
    converted files and Hugging Face model directories / ``.bin`` / ``.safetensors``; the
    format is detected from the keys (:func:`blip_plugin.models.weights.load_blip_weights`).

    Args:
        model: the (unwrapped) model.
        checkpoint: a file path or an already read checkpoint dict.
        strict: raise on missing or unexpected keys. Defaults to False (they are logged).
        logger: where to report; defaults to the current MMLogger.

    Returns:
        The checkpoint as read (a dict).
    """
    from ..models.weights import load_blip_weights, read_state_dict

    name = checkpoint if isinstance(checkpoint, str) else 'the given checkpoint'
    if isinstance(checkpoint, str) and (
        os.path.isdir(checkpoint) or checkpoint.endswith(('.safetensors', '.index.json'))
    ):
        ckpt = {'state_dict': read_state_dict(checkpoint)}  # Hugging Face dirs, safetensors
    else:
        ckpt = load_checkpoint_file(checkpoint) if isinstance(checkpoint, str) else checkpoint
    load_blip_weights(model, ckpt, strict=strict, name=name, logger=logger)
    return ckpt


def upgrade_legacy_checkpoint(src: str, dst: str) -> None:
    """Rewrite a plain-MMEngine checkpoint ``src`` as a weights-only-safe ``dst``.

    ``src`` is unpickled with ``weights_only=False``: only call this on files you trust.
    """
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    atomic_save(to_safe(ckpt), dst)


def _main() -> None:
    parser = argparse.ArgumentParser(description=upgrade_legacy_checkpoint.__doc__)
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument(
        '--trust-pickle',
        action='store_true',
        required=True,
        help='confirm that SRC comes from a source you trust',
    )
    args = parser.parse_args()
    upgrade_legacy_checkpoint(args.src, args.dst)


if __name__ == '__main__':
    _main()
