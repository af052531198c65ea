"""Where weights come from: a local path, a URL (downloaded once into torch's hub cache) or a
Hugging Face hub repository (resolved with ``huggingface_hub.snapshot_download``).

Only the file is fetched here; reading it (weights only) and mapping its keys is
:func:`blip_plugin.models.load_blip_weights`'s job.
"""

import os
import re
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

import torch
from mmengine.logging import MMLogger

__all__ = ['resolve_checkpoint', 'download_url', 'download_hf_hub', 'is_hf_hub_name']

WEIGHT_SUFFIXES = ('.pth', '.pt', '.bin', '.safetensors', '.ckpt', '.json')
HF_PREFIX = 'hf://'
# owner/name, as the hub spells repository ids
_HF_REPO_ID = re.compile(r'^[A-Za-z0-9][\w.-]*/[\w.-]+$')
# HF weight files plus what a model directory needs to be read (sharded indices)
HF_ALLOW_PATTERNS = ['*.safetensors', '*.bin', '*.json']


def is_hf_hub_name(spec: str) -> bool:
    """Whether ``spec`` names a hub repository: ``hf://owner/name``, or ``owner/name`` that is
    no local path and has no weight-file suffix."""
    if spec.startswith(HF_PREFIX):
        return True
    return (
        bool(_HF_REPO_ID.match(spec))
        and not os.path.exists(spec)
        and not spec.endswith(WEIGHT_SUFFIXES)
    )


def download_url(url: str, cache_dir: Optional[str] = None) -> str:
    """Download ``url`` once into ``<torch hub dir>/checkpoints`` and return the local path.

    A file name carrying a hash prefix (``name-a5b71af3.pth``, OpenMMLab's and torch's
    convention) is checked against the download's SHA-256, as torch.hub does.
    """
    cache = Path(cache_dir or os.path.join(torch.hub.get_dir(), 'checkpoints'))
    filename = os.path.basename(urlparse(url).path)
    if not filename:
        raise ValueError(f'cannot name a file after the URL {url!r}')
    target = cache / filename
    if target.is_file():
        return str(target)
    cache.mkdir(parents=True, exist_ok=True)
    match = torch.hub.HASH_REGEX.search(filename)
    hash_prefix = match.group(1) if match and len(match.group(1)) >= 8 else None
    MMLogger.get_current_instance().info(f'downloading {url} to {target}')
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix=hash_prefix, progress=True)
    except Exception as e:  # network down, 404, hash mismatch: say which file
        raise OSError(
            f'could not download the checkpoint {url}: {e}. Download it yourself '
            f'and pass the local path.'
        ) from e
    return str(target)


def download_hf_hub(repo_id: str, cache_dir: Optional[str] = None) -> str:
    """Fetch the weights of a Hugging Face hub repository; returns the local directory."""
    repo_id = repo_id[len(HF_PREFIX) :] if repo_id.startswith(HF_PREFIX) else repo_id
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:  # pragma: no cover - a dependency of transformers
        raise ImportError('loading weights from the Hugging Face hub needs huggingface_hub') from e
    try:
        return snapshot_download(repo_id, allow_patterns=HF_ALLOW_PATTERNS, cache_dir=cache_dir)
    except Exception as e:  # offline (HF_HUB_OFFLINE), unknown repo, gated repo
        raise OSError(
            f'could not fetch the Hugging Face repository {repo_id!r}: {type(e).__name__}: {e}'
        ) from e


def resolve_checkpoint(spec: 'str | os.PathLike', cache_dir: Optional[str] = None) -> str:
    """A local file or directory holding the weights named by ``spec``.

    Args:
        spec: a local file or HF model directory; an ``http(s)://`` URL; or a Hugging Face hub
            repository (``hf://owner/name`` or ``owner/name``).
        cache_dir: where downloads go; None uses torch's hub cache (URLs) or the Hugging Face
            cache (hub repositories). Defaults to None.

    Raises:
        FileNotFoundError: a path that does not exist and is no URL or hub name.
        OSError: a download that failed (the URL or repository named).
    """
    spec = os.fspath(spec)
    if os.path.exists(spec):
        return spec
    if spec.startswith(('http://', 'https://')):
        return download_url(spec, cache_dir)
    if is_hf_hub_name(spec):
        return download_hf_hub(spec, cache_dir)
    raise FileNotFoundError(
        f'checkpoint not found: {spec} (neither a local file, a URL nor a '
        'Hugging Face hub name owner/name)'
    )
