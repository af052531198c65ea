"""Training machinery: a runner with weights-only-safe checkpoints, its hook and helpers."""

from .cfg_options import merge_cfg_options
from .checkpoint import (
    LegacyCheckpointError,
    atomic_save,
    atomic_write_text,
    load_checkpoint_file,
    load_weights,
    upgrade_legacy_checkpoint,
)
from .checkpoint_hook import BlipCheckpointHook
from .dataset_epoch_hook import DatasetEpochHook
from .loops import BlipEpochBasedTrainLoop
from .nonfinite_hook import BlipNonFiniteHook, NonFiniteLossError
from .runner import BlipRunner
from .safe_state import from_safe, get_rng_state, set_rng_state, to_safe

__all__ = [
    'BlipRunner',
    'BlipCheckpointHook',
    'BlipEpochBasedTrainLoop',
    'BlipNonFiniteHook',
    'NonFiniteLossError',
    'DatasetEpochHook',
    'LegacyCheckpointError',
    'atomic_save',
    'atomic_write_text',
    'load_checkpoint_file',
    'load_weights',
    'upgrade_legacy_checkpoint',
    'to_safe',
    'from_safe',
    'get_rng_state',
    'set_rng_state',
    'merge_cfg_options',
]
