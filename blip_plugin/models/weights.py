"""Read BLIP weight files of every supported format and load them into a model.

Files are read with ``torch.load(weights_only=True)`` or safetensors: a weight file can never
run code. Formats are detected from the keys (see :mod:`blip_plugin.models.convert`).
"""

import json
import os
from typing import Optional

import torch
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from torch import nn

from .convert import convert_state_dict, detect_format

__all__ = ['read_state_dict', 'unwrap_state_dict', 'load_blip_weights', 'HF_WEIGHT_FILES']

HF_WEIGHT_FILES = (
    'model.safetensors',
    'pytorch_model.bin',
    'model.safetensors.index.json',
    'pytorch_model.bin.index.json',
)


def _torch_load(path: str, trust_pickle: bool = False) -> object:
    if trust_pickle:  # only the converter CLI asks for this, and says so loudly
        return torch.load(path, map_location='cpu', weights_only=False)
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # unpickling refused, or a corrupt file
        raise ValueError(
            f'{path}: cannot be read as weights only ({type(e).__name__}: {e}). Weight files are '
            'never unpickled with arbitrary objects. If this file comes from a source you trust, '
            'convert it once with `python tools/model_converters/blip_to_plugin.py '
            f'{path} OUT.pth --trust-pickle` and load OUT.pth.'
        ) from e


def _read_file(path: str, trust_pickle: bool = False) -> object:
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file

        return load_file(path)
    if path.endswith('.index.json'):  # sharded HF checkpoint
        with open(path) as f:
            shards = sorted(set(json.load(f)['weight_map'].values()))
        sd: dict = {}
        for shard in shards:
            sd.update(_read_file(os.path.join(os.path.dirname(path), shard), trust_pickle))
        return sd
    return _torch_load(path, trust_pickle)


def unwrap_state_dict(obj: object, name: str = 'the checkpoint') -> dict:
    """The bare state dict inside ``{'model': sd}`` (official BLIP / LAVIS), ``{'state_dict':
    sd}`` (MMEngine, mmpretrain, this plugin's converter) or a bare state dict, without a
    ``module.`` prefix that every key carries (saved from a DDP wrapper).

    Raises:
        ValueError: when what is left is not a dict of tensors (the offending keys named).
    """
    for wrapper in ('model', 'state_dict'):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict):
        raise ValueError(f'{name} holds a {type(obj).__name__}, not a state dict')
    if obj and all(k.startswith('module.') for k in obj):  # saved from a DDP wrapper
        obj = {k[len('module.') :]: v for k, v in obj.items()}
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(
            f'{name} holds no state dict of tensors: {len(bad)} entries are not '
            f'tensors, e.g. {bad[:5]}'
        )
    return obj


def read_state_dict(path: str, trust_pickle: bool = False) -> dict:
    """Read the weights of a file or a Hugging Face model directory as a bare state dict.

    Accepts ``{'model': sd}`` (official BLIP / LAVIS), ``{'state_dict': sd}`` (MMEngine /
    mmpretrain / this plugin), a bare state dict (``.pth``, ``.bin``), ``.safetensors`` and a
    directory with one of :data:`HF_WEIGHT_FILES`.

    Args:
        path: the file or directory.
        trust_pickle: unpickle arbitrary objects (``weights_only=False``). Only for files from
            a trusted source, and only in the converter CLI. Defaults to False.
    """
    if os.path.isdir(path):
        for name in HF_WEIGHT_FILES:
            if os.path.isfile(os.path.join(path, name)):
                return read_state_dict(os.path.join(path, name), trust_pickle)
        raise FileNotFoundError(f'{path}: a model directory needs one of {HF_WEIGHT_FILES}')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    return unwrap_state_dict(_read_file(path, trust_pickle), path)


def _tied_groups(model: nn.Module) -> list:
    """Groups (>= 2) of state-dict keys that name one parameter (tied weights)."""
    by_tensor: dict = {}
    for key, value in model.state_dict(keep_vars=True).items():
        by_tensor.setdefault(id(value), []).append(key)
    return [keys for keys in by_tensor.values() if len(keys) > 1]


def _check_tied(sd: dict, groups: list, name: str) -> None:
    for keys in groups:
        given = [k for k in keys if k in sd]
        for k in given[1:]:
            if sd[k].shape != sd[given[0]].shape or not torch.equal(sd[k], sd[given[0]]):
                raise ValueError(
                    f'{name}: {k!r} and {given[0]!r} are one tied parameter in this model, but '
                    'the checkpoint holds different values for them. An untied LM head needs '
                    'a model built with tie_word_embeddings=False; encoder and decoder weights '
                    'that differ need a model that does not share them.'
                )


def load_blip_weights(
    model: nn.Module,
    checkpoint: 'str | dict',
    fmt: Optional[str] = None,
    strict: bool = True,
    name: Optional[str] = None,
    logger: Optional[MMLogger] = None,
) -> dict:
    """Load BLIP weights of any supported format into ``model``.

    Keys the model does not have are an error, unless their top-level part is one this task
    does not use (listed in ``model.unused_weight_prefixes``, e.g. a caption model given a
    pre-training checkpoint): those are named in a warning. Missing keys are an error naming
    them (a tied weight counts as present when its twin is loaded; twins given with different
    values are an error). A ViT position embedding of another resolution is resized by the
    ViT on load. A model wrapper (DDP) is unwrapped.

    Args:
        model: the model to fill.
        checkpoint: a path (see :func:`read_state_dict`), a state dict of any format, or a
            checkpoint dict holding one (see :func:`unwrap_state_dict`).
        fmt: the format, one of :data:`~blip_plugin.models.convert.FORMATS`; None detects it.
        strict: raise on missing or unexpected keys; when False they are logged as a warning.
            Defaults to True.
        name: how messages name the checkpoint. Defaults to the path, or 'the given state
            dict'.
        logger: where to report. Defaults to the current MMLogger.

    Returns:
        ``dict(format=..., missing=[...], unexpected=[...], unused=[...])``.

    Raises:
        ValueError: unmapped, missing or unexpected keys, shape mismatches, conflicting tied
            weights, or a file that is not weights only; each named.
    """
    if is_model_wrapper(model):
        model = model.module
    logger = logger or MMLogger.get_current_instance()
    if name is None:
        name = checkpoint if isinstance(checkpoint, str) else 'the given state dict'
    sd = (
        read_state_dict(checkpoint)
        if isinstance(checkpoint, str)
        else unwrap_state_dict(checkpoint, name)
    )
    own = model.state_dict()
    if fmt is None:
        # a checkpoint already in the model's own names (this plugin's, or any model's)
        fmt = 'blip_plugin' if sd and set(sd) <= set(own) else detect_format(sd)
    sd = convert_state_dict(sd, fmt, log=logger.info)
    unused_prefixes = tuple(getattr(model, 'unused_weight_prefixes', ()))
    unused = [k for k in sd if k not in own and k.split('.')[0] in unused_prefixes]
    for k in unused:
        sd.pop(k)
    groups = _tied_groups(model)
    _check_tied(sd, groups, name)
    try:
        result = model.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # size mismatches (a position embedding is resized, not here)
        raise ValueError(f'{name} does not fit {type(model).__name__}: {e}') from e
    twin_of = {k: keys for keys in groups for k in keys}
    missing = [
        k for k in result.missing_keys if not any(t in sd for t in twin_of.get(k, []) if t != k)
    ]
    unexpected = list(result.unexpected_keys)
    if unused:
        parts = sorted({k.split('.')[0] for k in unused})
        logger.warning(
            f'{name}: {len(unused)} tensors of parts this model does not use were skipped: {parts}'
        )
    if strict and (missing or unexpected):
        raise ValueError(
            f'{name} ({fmt} format) does not fit {type(model).__name__}: '
            f'{len(missing)} missing keys {_few(missing)}; '
            f'{len(unexpected)} unexpected keys {_few(unexpected)}'
        )
    if missing or unexpected:
        logger.warning(
            f'{name}: {len(missing)} missing keys {_few(missing)}; '
            f'{len(unexpected)} unexpected keys {_few(unexpected)}'
        )
    logger.info(f'loaded {len(sd)} tensors from {name} ({fmt} format) into {type(model).__name__}')
    return dict(format=fmt, missing=missing, unexpected=unexpected, unused=unused)


def _few(keys: list, n: int = 20) -> str:
    """The first ``n`` keys, after a count per top-level part when there are more."""
    if len(keys) <= n:
        return str(keys)
    parts: dict = {}
    for k in keys:
        parts[k.split('.')[0]] = parts.get(k.split('.')[0], 0) + 1
    return f'(per part: {parts}) {str(keys[:n])[:-1]}, ...]'
