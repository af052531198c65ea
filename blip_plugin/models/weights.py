"""Read BLIP weight files of every supported format and load them into a model.

Files are read with ``torch.load(weights_only=True)`` or safetensors: a weight file can never
run code. Formats are detected from the keys (see :mod:`blip_plugin.models.convert`).
"""
import json
import os
from typing import Optional

import torch
from mmengine.logging import MMLogger
from torch import nn

from .convert import convert_state_dict

__all__ = ['read_state_dict', 'load_blip_weights', 'HF_WEIGHT_FILES']

HF_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin', 'model.safetensors.index.json',
                   'pytorch_model.bin.index.json')


def _torch_load(path: str) -> dict:
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # unpickling refused, or a corrupt file
        raise ValueError(
            f'{path}: cannot be read as weights only ({type(e).__name__}: {e}). Weight files are '
            'never unpickled with arbitrary objects. If this file comes from a source you trust, '
            'convert it once with `python tools/model_converters/blip_to_plugin.py --trust-pickle '
            f'{path} OUT.pth`.') from e


def _read_file(path: str) -> dict:
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    if path.endswith('.index.json'):  # sharded HF checkpoint
        with open(path) as f:
            shards = sorted(set(json.load(f)['weight_map'].values()))
        sd: dict = {}
        for shard in shards:
            sd.update(_read_file(os.path.join(os.path.dirname(path), shard)))
        return sd
    return _torch_load(path)


def read_state_dict(path: str) -> dict:
    """Read the weights of a file or a Hugging Face model directory as a bare state dict.

    Accepts ``{'model': sd}`` (official BLIP / LAVIS), ``{'state_dict': sd}`` (MMEngine /
    mmpretrain), a bare state dict (``.pth``, ``.bin``), ``.safetensors`` and a directory with
    one of :data:`HF_WEIGHT_FILES`.
    """
    if os.path.isdir(path):
        for name in HF_WEIGHT_FILES:
            if os.path.isfile(os.path.join(path, name)):
                return read_state_dict(os.path.join(path, name))
        raise FileNotFoundError(f'{path}: a model directory needs one of {HF_WEIGHT_FILES}')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    obj = _read_file(path)
    for wrapper in ('model', 'state_dict'):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f'{path}: holds no state dict of tensors')
    return obj


def _tied_twins(model: nn.Module) -> dict:
    """key -> all keys naming the same parameter (tied weights)."""
    by_tensor: dict = {}
    for key, value in model.state_dict(keep_vars=True).items():
        by_tensor.setdefault(id(value), []).append(key)
    return {k: keys for keys in by_tensor.values() for k in keys}


def load_blip_weights(model: nn.Module, checkpoint: 'str | dict', fmt: Optional[str] = None,
                      strict: bool = True) -> dict:
    """Load BLIP weights of any supported format into ``model``.

    Keys the model does not have are an error, unless their top-level part is one this task
    does not use (listed in ``model.unused_weight_prefixes``, e.g. a caption model given a
    pre-training checkpoint): those are named in a warning. Missing keys are an error naming
    them (a tied weight counts as present when its twin is loaded).

    Args:
        model: the model to fill.
        checkpoint: a path (see :func:`read_state_dict`) or a state dict.
        fmt: the format; None detects it.
        strict: raise on missing or unexpected keys. Defaults to True.

    Returns:
        ``dict(missing=[...], unexpected=[...], unused=[...])``.
    """
    logger = MMLogger.get_current_instance()
    name = checkpoint if isinstance(checkpoint, str) else 'the given state dict'
    sd = read_state_dict(checkpoint) if isinstance(checkpoint, str) else checkpoint
    sd = convert_state_dict(sd, fmt, log=logger.info)
    unused_prefixes = tuple(getattr(model, 'unused_weight_prefixes', ()))
    own = model.state_dict()
    unused = [k for k in sd if k not in own and k.split('.')[0] in unused_prefixes]
    for k in unused:
        sd.pop(k)
    result = model.load_state_dict(sd, strict=False)
    twins = _tied_twins(model)
    missing = [k for k in result.missing_keys
               if not any(t in sd for t in twins.get(k, [k]) if t != k)]
    unexpected = list(result.unexpected_keys)
    if unused:
        parts = sorted({k.split('.')[0] for k in unused})
        logger.warning(f'{name}: {len(unused)} tensors of parts this model does not use were '
                       f'skipped: {parts}')
    if strict and (missing or unexpected):
        raise ValueError(
            f'{name} does not fit {type(model).__name__}: {len(missing)} missing keys '
            f'{missing[:20]}, {len(unexpected)} unexpected keys {unexpected[:20]}')
    return dict(missing=missing, unexpected=unexpected, unused=unused)
