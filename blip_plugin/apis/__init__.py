"""Inference and the model zoo: ``inference_model``, ``get_model``, ``list_models``."""

from .checkpoint import resolve_checkpoint
from .inference import caption_inference, inference_model
from .model import get_model, init_model, load_config
from .model_index import (
    ModelInfo,
    get_model_info,
    list_models,
    load_model_index,
    register_with_mmpretrain,
)
from .tasks import TASKS, register_task, task_of
from .video import video_qa_inference, video_retrieval_inference  # registers the video tasks

__all__ = [
    'inference_model',
    'get_model',
    'init_model',
    'list_models',
    'get_model_info',
    'ModelInfo',
    'load_model_index',
    'load_config',
    'resolve_checkpoint',
    'register_task',
    'task_of',
    'TASKS',
    'caption_inference',
    'video_retrieval_inference',
    'video_qa_inference',
    'register_with_mmpretrain',
]

# mmpretrain.list_models() shows our zoo too; a failure is logged, never raised.
register_with_mmpretrain()
