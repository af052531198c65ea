"""The model zoo as data: ``model-index.yml`` and the metafiles it imports.

The files follow mmpretrain's (OpenMMLab's model-index) format, read here with plain YAML so
that listing models needs neither ``modelindex`` nor ``pkg_resources``. The same index is
registered with mmpretrain's ``ModelHub`` by :func:`register_with_mmpretrain`, where that works.
"""

import difflib
import fnmatch
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Optional

import yaml
from mmengine.logging import MMLogger

__all__ = [
    'ModelInfo',
    'find_model_index',
    'load_model_index',
    'get_model_info',
    'list_models',
    'register_with_mmpretrain',
]

MODEL_INDEX = 'model-index.yml'


@dataclass(frozen=True)
class ModelInfo:
    """One model of the zoo.

    Args:
        name: the model's name (``blip-base_caption``).
        config: absolute path of its config file.
        weights: the primary weights (a URL), or None.
        tasks: the tasks its results are reported for (mmpretrain's task names).
        hf_hub: the Hugging Face hub repository of the same model, or None.
        mirrors: other downloads of the same weights, keyed by source.
        metadata: the metafile's ``Metadata`` block.
        results: the metafile's ``Results`` list.
        converted_from: the metafile's ``Converted From`` block.
        parity: the metafile's ``Parity`` block (``Verified``, ``Reference``, ``Widths``,
            ``Note``, ``Tests``): whether this model's code was checked against a reference.
        stand_in_weights: True where the authors did not release this model and ``weights``
            is the closest released file (``notes`` says which).
        notes: the metafile's ``Notes``, or ''.
        metafile: the metafile the model was read from.
    """

    name: str
    config: str
    weights: Optional[str] = None
    tasks: tuple = ()
    hf_hub: Optional[str] = None
    mirrors: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    results: tuple = ()
    converted_from: dict = field(default_factory=dict)
    parity: dict = field(default_factory=dict)
    stand_in_weights: bool = False
    notes: str = ''
    metafile: str = ''


def find_model_index() -> Path:
    """The repository's ``model-index.yml`` (an editable install or a source checkout), else
    ``blip_plugin/.mim/model-index.yml`` (where a wheel would ship it).

    Raises:
        FileNotFoundError: when neither exists (a wheel built without the model zoo).
    """
    package = Path(__file__).resolve().parents[1]
    candidates = [package.parent / MODEL_INDEX, package / '.mim' / MODEL_INDEX]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f'no {MODEL_INDEX} found (looked at {[str(p) for p in candidates]}): the model zoo '
        'ships with the source tree; install blip-plugin with `pip install -e .` from a checkout '
        'or pass a config file instead of a model name.'
    )


def _read_yaml(path: Path) -> dict:
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f) or {}


def _model_info(entry: dict, root: Path, metafile: Path) -> ModelInfo:
    name = entry.get('Name')
    if not name:
        raise ValueError(f'{metafile}: a model entry has no Name: {entry}')
    config = entry.get('Config')
    if not config:
        raise ValueError(f'{metafile}: model {name!r} has no Config')
    results = tuple(entry.get('Results') or ())
    tasks = tuple(dict.fromkeys(r['Task'] for r in results if r.get('Task')))
    return ModelInfo(
        name=name,
        config=str((root / config).resolve()),
        weights=entry.get('Weights'),
        tasks=tasks,
        hf_hub=entry.get('Hugging Face'),
        mirrors=dict(entry.get('Mirrors') or {}),
        metadata=dict(entry.get('Metadata') or {}),
        results=results,
        converted_from=dict(entry.get('Converted From') or {}),
        parity=dict(entry.get('Parity') or {}),
        stand_in_weights=bool(entry.get('Stand-in Weights', False)),
        notes=entry.get('Notes') or '',
        metafile=str(metafile),
    )


@cache
def load_model_index(path: Optional[str] = None) -> dict:
    """Read the model index into ``{lower-case name: ModelInfo}``.

    Args:
        path: a ``model-index.yml``; None finds this package's (:func:`find_model_index`).
            Config paths in its metafiles are relative to the index's directory.

    Raises:
        ValueError: a model without Name or Config, or one name given twice.
    """
    index = Path(path) if path else find_model_index()
    root = index.parent
    models: dict = {}
    for rel in _read_yaml(index).get('Import', []):
        metafile = root / rel
        for entry in _read_yaml(metafile).get('Models') or []:
            info = _model_info(entry, root, metafile)
            key = info.name.lower()
            if key in models:
                raise ValueError(
                    f'model name {info.name!r} is given twice: in '
                    f'{models[key].metafile} and {metafile}'
                )
            models[key] = info
    return models


def get_model_info(name: str) -> ModelInfo:
    """The zoo entry of ``name`` (case-insensitive).

    Raises:
        ValueError: for an unknown name, listing the closest known names.
    """
    models = load_model_index()
    info = models.get(name.lower())
    if info is None:
        close = difflib.get_close_matches(name.lower(), list(models), n=5, cutoff=0.4)
        hint = f' Did you mean {close}?' if close else ''
        raise ValueError(
            f'unknown model name {name!r}.{hint} `blip_plugin.list_models()` lists '
            f'all {len(models)} names; a path to a .py config works too.'
        )
    return info


def list_models(pattern: Optional[str] = None, task: Optional[str] = None) -> list:
    """Names of the models in this plugin's zoo.

    Args:
        pattern: a wildcard pattern (``fnmatch``, case-insensitive); as in mmpretrain, any
            suffix matches too (``'blip-base'`` finds ``blip-base_caption``). Defaults to None.
        task: keep models with results for this task (``'Image Caption'``, matched
            case-insensitively). Defaults to None.

    Returns:
        Sorted model names.
    """
    infos = load_model_index().values()
    if pattern is not None:
        infos = [i for i in infos if fnmatch.fnmatch(i.name.lower(), pattern.lower() + '*')]
    if task is not None:
        infos = [i for i in infos if task.lower() in (t.lower() for t in i.tasks)]
    return sorted(i.name for i in infos)


_registered_with_mmpretrain = False


def register_with_mmpretrain() -> bool:
    """Register this zoo with mmpretrain's ``ModelHub``, so that ``mmpretrain.list_models()``
    shows our names. Idempotent; returns whether the zoo is registered.

    ``mmpretrain.apis`` imports without ``mmpretrain.models``, and ``register_model_index``
    only needs the ``modelindex`` package: a missing package or index is logged and skipped.
    Config paths are passed absolute, never as ``blip_plugin::...``: that prefix sends MMEngine
    through ``pkg_resources`` (``get_installed_path``), which setuptools >= 82 removed.
    Building a model through mmpretrain's own ``get_model`` / ``inference_model`` still needs
    ``mmpretrain.models``; use this package's functions of the same names.
    """
    global _registered_with_mmpretrain
    if _registered_with_mmpretrain:
        return True
    logger = MMLogger.get_current_instance()
    try:
        from mmpretrain.apis import ModelHub

        index = find_model_index()
        ModelHub.register_model_index(str(index), config_prefix=str(index.parent))
    except (ImportError, FileNotFoundError, ValueError, OSError) as e:
        # ValueError: a name clash inside ModelHub; ImportError: modelindex not installed
        logger.debug(f'blip_plugin models not registered with mmpretrain ModelHub: {e}')
        return False
    _registered_with_mmpretrain = True
    return True
