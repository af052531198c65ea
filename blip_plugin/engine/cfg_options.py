"""``--cfg-options`` that name a key which is not in the config fail instead of adding it.

MMEngine's ``Config.merge_from_dict`` silently adds any key it is given, so a typo such as
``train_cfg.max_iter=10`` trains with the unchanged ``max_iters``. Here every key must exist
(list indices included, as in ``a.0.b``); keys meant to be new are passed separately.
"""

import difflib
from typing import Any, Optional

from mmengine.config import Config

__all__ = ['merge_cfg_options', 'find_missing_key']


def _children(node: Any) -> Optional[list]:
    if isinstance(node, dict):
        return [str(k) for k in node.keys()]
    if isinstance(node, (list, tuple)):
        return [str(i) for i in range(len(node))]
    return None


def find_missing_key(cfg: Any, key: str) -> Optional[str]:
    """Return an error message if the dotted ``key`` is not in ``cfg``, else None."""
    node = cfg._cfg_dict if isinstance(cfg, Config) else cfg
    parts = key.split('.')
    for depth, part in enumerate(parts):
        names = _children(node)
        prefix = '.'.join(parts[:depth])
        if names is None:
            return f'--cfg-options {key}: {prefix!r} is a {type(node).__name__}, not a dict or list'
        if part not in names:
            if part == '_delete_':
                return None
            close = difflib.get_close_matches(part, names, n=3)
            where = f'{prefix!r}' if prefix else 'the config'
            hint = (
                f' Did you mean {", ".join(repr(".".join([*parts[:depth], c])) for c in close)}?'
                if close
                else ''
            )
            return (
                f'--cfg-options {key}: {where} has no key {part!r}.{hint} Use '
                '--cfg-new KEY=VALUE to add a key on purpose.'
            )
        node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
    return None


def merge_cfg_options(cfg: Config, options: Optional[dict], new: Optional[dict] = None) -> Config:
    """Merge ``options`` (every key must exist) and ``new`` (keys may be new) into ``cfg``.

    Args:
        cfg: the config to change in place.
        options: ``{'a.b.c': value}`` as parsed by ``mmengine.config.DictAction``.
        new: the same, for keys that may not exist yet.

    Raises:
        ValueError: naming every key of ``options`` that the config lacks, with close matches.
    """
    if options:
        errors = [m for k in options if (m := find_missing_key(cfg, k)) is not None]
        if errors:
            raise ValueError('\n'.join(errors))
        cfg.merge_from_dict(options)
    if new:
        cfg.merge_from_dict(new)
    return cfg
