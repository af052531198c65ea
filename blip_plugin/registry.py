"""Registries of the ``blip_plugin`` scope.

Each registry is a child of mmpretrain's (and so of MMEngine's root), as mmyolo does for
mmdet. A name not registered here falls back to its parents' *already registered* names, so
MMEngine's hooks, loops and optimizers and mmpretrain's datasets and transforms are all
reachable from ``default_scope='blip_plugin'``.

``mmpretrain.models`` and ``mmpretrain.engine`` are never imported (they fail to import next
to transformers >= 4.50): our registries only list our own locations, and a parent's names
are looked up without importing the parent's locations.
"""

from mmengine.registry import Registry
from mmpretrain.registry import DATA_SAMPLERS as MMPRETRAIN_DATA_SAMPLERS
from mmpretrain.registry import DATASETS as MMPRETRAIN_DATASETS
from mmpretrain.registry import EVALUATORS as MMPRETRAIN_EVALUATORS
from mmpretrain.registry import HOOKS as MMPRETRAIN_HOOKS
from mmpretrain.registry import LOG_PROCESSORS as MMPRETRAIN_LOG_PROCESSORS
from mmpretrain.registry import LOOPS as MMPRETRAIN_LOOPS
from mmpretrain.registry import METRICS as MMPRETRAIN_METRICS
from mmpretrain.registry import MODEL_WRAPPERS as MMPRETRAIN_MODEL_WRAPPERS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.registry import OPTIM_WRAPPERS as MMPRETRAIN_OPTIM_WRAPPERS
from mmpretrain.registry import OPTIMIZERS as MMPRETRAIN_OPTIMIZERS
from mmpretrain.registry import PARAM_SCHEDULERS as MMPRETRAIN_PARAM_SCHEDULERS
from mmpretrain.registry import RUNNER_CONSTRUCTORS as MMPRETRAIN_RUNNER_CONSTRUCTORS
from mmpretrain.registry import RUNNERS as MMPRETRAIN_RUNNERS
from mmpretrain.registry import TASK_UTILS as MMPRETRAIN_TASK_UTILS
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS
from mmpretrain.registry import VISBACKENDS as MMPRETRAIN_VISBACKENDS
from mmpretrain.registry import VISUALIZERS as MMPRETRAIN_VISUALIZERS
from mmpretrain.registry import WEIGHT_INITIALIZERS as MMPRETRAIN_WEIGHT_INITIALIZERS

__all__ = [
    'RUNNERS',
    'RUNNER_CONSTRUCTORS',
    'LOOPS',
    'HOOKS',
    'LOG_PROCESSORS',
    'OPTIMIZERS',
    'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS',
    'DATASETS',
    'DATA_SAMPLERS',
    'TRANSFORMS',
    'MODELS',
    'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS',
    'TASK_UTILS',
    'METRICS',
    'EVALUATORS',
    'VISUALIZERS',
    'VISBACKENDS',
]

SCOPE = 'blip_plugin'


def _child(name: str, parent: Registry, locations: list) -> Registry:
    return Registry(name, parent=parent, scope=SCOPE, locations=locations)


RUNNERS = _child('runner', MMPRETRAIN_RUNNERS, ['blip_plugin.engine'])
RUNNER_CONSTRUCTORS = _child(
    'runner constructor', MMPRETRAIN_RUNNER_CONSTRUCTORS, ['blip_plugin.engine']
)
LOOPS = _child('loop', MMPRETRAIN_LOOPS, ['blip_plugin.engine', 'blip_plugin.evaluation'])
HOOKS = _child('hook', MMPRETRAIN_HOOKS, ['blip_plugin.engine'])
LOG_PROCESSORS = _child('log processor', MMPRETRAIN_LOG_PROCESSORS, ['blip_plugin.engine'])
OPTIMIZERS = _child('optimizer', MMPRETRAIN_OPTIMIZERS, ['blip_plugin.engine'])
OPTIM_WRAPPERS = _child('optim wrapper', MMPRETRAIN_OPTIM_WRAPPERS, ['blip_plugin.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _child(
    'optimizer wrapper constructor', MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS, ['blip_plugin.engine']
)
PARAM_SCHEDULERS = _child(
    'parameter scheduler', MMPRETRAIN_PARAM_SCHEDULERS, ['blip_plugin.engine']
)
DATASETS = _child('dataset', MMPRETRAIN_DATASETS, ['blip_plugin.datasets'])
DATA_SAMPLERS = _child('data sampler', MMPRETRAIN_DATA_SAMPLERS, ['blip_plugin.datasets'])
TRANSFORMS = _child('transform', MMPRETRAIN_TRANSFORMS, ['blip_plugin.datasets'])
MODELS = _child('model', MMPRETRAIN_MODELS, ['blip_plugin.models'])
MODEL_WRAPPERS = _child('model_wrapper', MMPRETRAIN_MODEL_WRAPPERS, ['blip_plugin.models'])
WEIGHT_INITIALIZERS = _child(
    'weight initializer', MMPRETRAIN_WEIGHT_INITIALIZERS, ['blip_plugin.models']
)
TASK_UTILS = _child('task util', MMPRETRAIN_TASK_UTILS, ['blip_plugin.models'])
METRICS = _child('metric', MMPRETRAIN_METRICS, ['blip_plugin.evaluation'])
EVALUATORS = _child('evaluator', MMPRETRAIN_EVALUATORS, ['blip_plugin.evaluation'])
VISUALIZERS = _child('visualizer', MMPRETRAIN_VISUALIZERS, ['blip_plugin.visualization'])
VISBACKENDS = _child('vis_backend', MMPRETRAIN_VISBACKENDS, ['blip_plugin.visualization'])
