"""Turn runner state into types that ``torch.load(weights_only=True)`` accepts, and back.

MMEngine 0.10.7 pickles ``HistoryBuffer`` objects (message hub) and numpy arrays and scalars
(dataset meta, RNG state) into its checkpoints; torch >= 2.6 refuses to unpickle them by
default. :func:`to_safe` writes them as tagged dicts of tensors and python values;
:func:`from_safe` rebuilds them, so a checkpoint never needs arbitrary unpickling.
"""

import random
from collections import OrderedDict
from typing import Any, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = [
    'to_safe',
    'from_safe',
    'get_rng_state',
    'set_rng_state',
    'get_generator_states',
    'set_generator_states',
    'TAG',
]

TAG = '__blip_type__'
_PLAIN = (type(None), bool, int, float, complex, str, bytes, torch.dtype, torch.device, torch.Size)


def _array_to_safe(arr: np.ndarray) -> dict:
    if arr.dtype.kind in 'biuf':
        data: Any = torch.from_numpy(np.ascontiguousarray(arr)).clone()
    else:  # strings, objects: python values
        data = [to_safe(v, 'ndarray item') for v in arr.reshape(-1).tolist()]
    return {TAG: 'ndarray', 'dtype': arr.dtype.str, 'shape': list(arr.shape), 'data': data}


def _array_from_safe(d: dict) -> np.ndarray:
    data = d['data']
    dtype = np.dtype(d['dtype'])
    if isinstance(data, torch.Tensor):
        return data.numpy().astype(dtype, copy=False).reshape(d['shape'])
    return np.array([from_safe(v) for v in data], dtype=dtype).reshape(d['shape'])


def to_safe(obj: Any, path: str = 'checkpoint') -> Any:
    """Return ``obj`` made of tensors, python scalars, str, bytes, list, tuple, set and dict.

    Args:
        obj: a (nested) state: dicts, sequences, tensors, numpy values, ``HistoryBuffer``.
        path: where ``obj`` sits, for the error message.

    Raises:
        TypeError: for a type that cannot be written safely, naming where it sits.
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, np.generic):  # before _PLAIN: np.float64 and np.str_ subclass float, str
        return obj.item()
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, np.ndarray):
        return _array_to_safe(obj)
    if isinstance(obj, HistoryBuffer):
        return {
            TAG: 'HistoryBuffer',
            'max_length': obj.max_length,
            'log': _array_to_safe(np.asarray(obj._log_history)),
            'count': _array_to_safe(np.asarray(obj._count_history)),
        }
    if isinstance(obj, dict):
        if TAG in obj:
            raise TypeError(f'{path}: a dict may not use the reserved key {TAG!r}')
        out = OrderedDict() if isinstance(obj, OrderedDict) else {}
        for k, v in obj.items():
            key = to_safe(k, f'{path} key')
            out[key] = to_safe(v, f'{path}.{k}')
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [to_safe(v, f'{path}[{i}]') for i, v in enumerate(obj)]
        if isinstance(obj, list):
            return items
        if isinstance(obj, tuple) and not hasattr(obj, '_fields'):
            return tuple(items)
        if isinstance(obj, tuple):  # a namedtuple: its class cannot be loaded safely
            return items
        return set(items)
    raise TypeError(
        f'{path}: a {type(obj).__module__}.{type(obj).__qualname__} cannot be written to a '
        'checkpoint that loads with torch.load(weights_only=True); store tensors, python '
        'scalars, strings, lists or dicts instead.'
    )


def from_safe(obj: Any) -> Any:
    """Rebuild what :func:`to_safe` wrote (numpy arrays, ``HistoryBuffer``)."""
    if isinstance(obj, dict):
        tag = obj.get(TAG)
        if tag == 'ndarray':
            return _array_from_safe(obj)
        if tag == 'HistoryBuffer':
            return HistoryBuffer(
                _array_from_safe(obj['log']).tolist(),
                _array_from_safe(obj['count']).tolist(),
                obj['max_length'],
            )
        out = OrderedDict() if isinstance(obj, OrderedDict) else {}
        for k, v in obj.items():
            out[k] = from_safe(v)
        return out
    if isinstance(obj, list):
        return [from_safe(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(from_safe(v) for v in obj)
    return obj


def get_rng_state() -> dict:
    """The python, numpy and torch (CPU and CUDA) RNG states, as safe types."""
    np_state = np.random.get_state()
    state = {
        'python': random.getstate(),
        'numpy': [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Optional[dict]) -> bool:
    """Restore a state from :func:`get_rng_state`; returns whether one was restored."""
    if not state:
        return False
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    return True


def get_generator_states(model: torch.nn.Module) -> dict:
    """The states of the private ``torch.Generator`` attributes of ``model``'s modules.

    Some models draw from their own generator (e.g. the hard-negative sampler of the
    momentum models, ``_itm_generator``); its progress is no part of the global RNG states
    nor of the state dict, so an exact resume saves it here, keyed ``module.attr``.
    """
    states = {}
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, torch.Generator):
                states[f'{name}.{attr}' if name else attr] = value.get_state()
    return states


def set_generator_states(model: torch.nn.Module, states: Optional[dict]) -> list:
    """Restore :func:`get_generator_states`; a generator not created yet is created (CPU).

    Returns the restored keys. Raises ``KeyError`` naming a key whose module is missing.
    """
    modules = dict(model.named_modules())
    done = []
    for key, state in (states or {}).items():
        name, _, attr = key.rpartition('.')
        if name not in modules:
            raise KeyError(f'generator state {key!r}: the model has no module {name!r}')
        module = modules[name]
        generator = getattr(module, attr, None)
        if not isinstance(generator, torch.Generator):
            generator = torch.Generator()
            setattr(module, attr, generator)
        generator.set_state(state)
        done.append(key)
    return done
