"""Build models from a config or a zoo name, with weights from anywhere BLIP's are released."""

import copy
import os
from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from torch import nn

from ..registry import MODELS, SCOPE
from .checkpoint import resolve_checkpoint
from .model_index import get_model_info

__all__ = ['init_model', 'get_model', 'load_config']

ConfigLike = Union[str, os.PathLike, Config]


def load_config(config: ConfigLike, cfg_options: Optional[dict] = None) -> Config:
    """A copy of ``config`` (a path or a :class:`Config`) with ``cfg_options`` merged in
    (dotted keys, as ``--cfg-options``)."""
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif isinstance(config, (str, os.PathLike)):
        if not os.path.isfile(config):
            raise FileNotFoundError(f'config file not found: {os.fspath(config)}')
        cfg = Config.fromfile(os.fspath(config))
    else:
        raise TypeError(f'config must be a path or a mmengine Config, got {type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'config {getattr(cfg, "filename", "")} has no `model` entry')
    return cfg


def init_model(
    config: ConfigLike,
    checkpoint: Optional[Union[str, os.PathLike]] = None,
    device: Union[str, torch.device] = 'cpu',
    cfg_options: Optional[dict] = None,
) -> nn.Module:
    """Build the model of a config in the ``blip_plugin`` scope and load weights into it.

    Args:
        config: a config file path or a :class:`~mmengine.config.Config`.
        checkpoint: weights of any supported format (official BLIP / LAVIS, mmpretrain,
            Hugging Face, this plugin): a local file or HF model directory, an http(s) URL
            (downloaded once into torch's hub cache), or a Hugging Face hub repository
            (``owner/name`` or ``hf://owner/name``). None keeps the initial weights.
        device: where the model goes. Defaults to 'cpu'.
        cfg_options: dotted-key overrides merged into the config first.

    Returns:
        The model in eval mode, with its config as ``model.cfg``.
    """
    cfg = load_config(config, cfg_options)
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') and 'data_preprocessor' not in model_cfg:
        model_cfg['data_preprocessor'] = cfg.data_preprocessor  # as MMEngine's Runner does
    with DefaultScope.overwrite_default_scope(SCOPE):
        model = MODELS.build(model_cfg)
    if checkpoint is not None:
        from ..models.weights import load_blip_weights

        load_blip_weights(model, resolve_checkpoint(checkpoint))
    model.cfg = cfg
    return model.to(device).eval()


def _is_config_path(spec: object) -> bool:
    return isinstance(spec, os.PathLike) or (isinstance(spec, str) and Path(spec).suffix == '.py')


def get_model(
    name_or_config: ConfigLike,
    pretrained: Union[bool, str, os.PathLike] = False,
    device: Union[str, torch.device] = 'cpu',
    cfg_options: Optional[dict] = None,
    **kwargs,
) -> nn.Module:
    """Get a zoo model by name, or build one from a config.

    Args:
        name_or_config: a name from :func:`list_models`, a config path or a Config.
        pretrained: True loads the zoo's weights (``Weights`` of the metafile; for a config,
            its ``load_from``); a string is a checkpoint as :func:`init_model` takes; False
            keeps the initial weights. Defaults to False.
        device: where the model goes. Defaults to 'cpu'.
        cfg_options: dotted-key overrides merged into the config.
        **kwargs: overrides merged into ``cfg.model`` (e.g. ``generation=dict(num_beams=5)``).

    Returns:
        The model in eval mode, with ``model.cfg`` and ``model.model_info`` (the zoo entry, or
        None for a config).

    Raises:
        ValueError: an unknown name (with the closest names).
    """
    info = None
    if isinstance(name_or_config, Config) or _is_config_path(name_or_config):
        cfg = load_config(name_or_config, cfg_options)
        default_weights = cfg.get('load_from')
    elif isinstance(name_or_config, str):
        info = get_model_info(name_or_config)
        cfg = load_config(info.config, cfg_options)
        default_weights = info.weights
    else:
        raise TypeError(
            'name_or_config must be a model name, a config path or a Config, got '
            f'{type(name_or_config).__name__}'
        )
    if pretrained is True:
        if not default_weights:
            MMLogger.get_current_instance().warning(
                f'{name_or_config}: no pre-trained weights are known; the model keeps its '
                'initial weights'
            )
        checkpoint = default_weights or None
        if info is not None and info.stand_in_weights:
            MMLogger.get_current_instance().warning(
                f'{info.name}: the authors did not release this model; loading stand-in '
                f'weights ({info.notes or info.weights})'
            )
    else:
        checkpoint = pretrained or None
    if kwargs:
        cfg.merge_from_dict({'model': kwargs})
    model = init_model(cfg, checkpoint, device)
    model.model_info = info
    return model
