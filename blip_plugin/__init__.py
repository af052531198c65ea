"""BLIP (Li et al., ICML 2022) as an OpenMMLab plugin, registered in the ``blip_plugin`` scope.

Importing the package registers every module (models, datasets, transforms, metrics, hooks)
so that configs with ``default_scope='blip_plugin'`` build, and exposes the inference API.
"""

from . import apis, datasets, engine, evaluation, models
from .apis import get_model, inference_model, init_model, list_models
from .version import __version__

__all__ = [
    '__version__',
    'inference_model',
    'get_model',
    'list_models',
    'init_model',
    'apis',
    'models',
    'datasets',
    'evaluation',
    'engine',
]
