"""``inference_model`` on videos: zero-shot text-video retrieval and video QA.

``inference_model('blip-base_zeroshot_msrvtt-retrieval', 'clip.mp4', ['a dog runs', ...])``
and ``inference_model('blip-base_zeroshot_msrvtt-qa', 'clip.mp4', 'what is the man doing?')``
load each video with the model config's test pipeline (``BlipLoadVideo``: frames sampled,
resized, cached), so inference sees what evaluation sees.
"""

import copy
import os
from collections.abc import Iterator, Sequence
from typing import Callable, Optional, Union

import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from torch import nn

from ..registry import SCOPE, TRANSFORMS
from .tasks import (
    answer_batches,
    one_per_input,
    rank_pairs,
    register_task,
    retrieval_texts,
)

__all__ = [
    'video_pipeline_cfg',
    'build_video_pipeline',
    'iter_video_batches',
    'video_retrieval_inference',
    'video_qa_inference',
]


def video_pipeline_cfg(model: nn.Module, num_frames: Optional[int] = None) -> list:
    """The test pipeline of ``model.cfg`` if it loads videos, else ``BlipLoadVideo`` of the
    model's ``num_frames`` at the ViT's ``img_size`` and ``PackInputs``; ``num_frames``
    overrides the frames per video."""
    cfg = getattr(model, 'cfg', None)
    steps = None
    if cfg is not None:
        dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
        steps = dataset.get('pipeline') or cfg.get('test_pipeline')
    if not steps or not any(str(t.get('type', '')).endswith('LoadVideo') for t in steps):
        steps = [
            dict(
                type='BlipLoadVideo',
                num_frames=getattr(model, 'num_frames', 8),
                scale=model.vision_encoder.img_size,
            ),
            dict(type='PackInputs', input_key='video'),
        ]
    steps = copy.deepcopy([dict(t) for t in steps])
    if num_frames is not None:
        for t in steps:
            if str(t.get('type', '')).endswith('LoadVideo'):
                t['num_frames'] = num_frames
    return steps


def build_video_pipeline(model: nn.Module, num_frames: Optional[int] = None) -> Callable:
    """Compose :func:`video_pipeline_cfg` in the plugin's scope."""
    with DefaultScope.overwrite_default_scope(SCOPE):
        return Compose([TRANSFORMS.build(t) for t in video_pipeline_cfg(model, num_frames)])


def iter_video_batches(videos: Sequence, pipeline: Callable, batch_size: int) -> Iterator[dict]:
    """Load and collate video files in batches of ``batch_size`` (``inputs``: (T, 3, H, W)
    uint8 clips), ready for the model's data preprocessor.

    Raises:
        FileNotFoundError: a path that is not a file (the path named).
        TypeError: an input that is not a path.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    for start in range(0, len(videos), batch_size):
        packed = []
        for i, video in enumerate(videos[start : start + batch_size], start):
            if not isinstance(video, (str, os.PathLike)):
                raise TypeError(f'video {i}: expected a file path, got {type(video).__name__}')
            path = os.fspath(video)
            if not os.path.isfile(path):
                raise FileNotFoundError(f'video {i}: video file not found: {path}')
            packed.append(pipeline(dict(video_path=path, sample_idx=i)))
        yield pseudo_collate(packed)


@torch.no_grad()
def video_retrieval_inference(
    model: nn.Module,
    videos: list,
    texts: Union[str, Sequence[str]],
    *args,
    batch_size: int = 8,
    num_frames: Optional[int] = None,
) -> list:
    """Rank texts for videos, or videos for a text, with a ``BlipVideoRetrieval``.

    Every (video, text) pair gets its ITM match probability over the concatenated frames
    (``itm_score``) and its ITC cosine similarity to the frame-averaged feature
    (``itc_similarity``); rankings are by ``itm_score``, best first. A list of texts gives one
    ranking of ``{'text', 'itm_score', 'itc_similarity'}`` per video; one text (a str) gives
    one ranking of the videos, ``{'video_index', 'itm_score', 'itc_similarity'}``.
    ``num_frames`` overrides the frames per video.
    """
    if args:
        raise TypeError(f'video retrieval takes videos and texts; got {len(args)} extra arguments')
    texts, rank_videos = retrieval_texts(texts, 'video retrieval')
    batches = iter_video_batches(videos, build_video_pipeline(model, num_frames), batch_size)
    return rank_pairs(model, batches, texts, rank_videos, 'video_index')


@torch.no_grad()
def video_qa_inference(
    model: nn.Module,
    videos: list,
    questions: Union[str, Sequence[str]],
    *args,
    batch_size: int = 8,
    method: Optional[str] = None,
    num_frames: Optional[int] = None,
    **overrides,
) -> list:
    """Answer questions about videos with a ``BlipVideoVQA``: ``[{'pred_answer': str}, ...]``.

    ``questions``: one for every video, or one per video. ``method``: 'generate' or 'rank'
    (over the model's answer list); None keeps the model's. ``num_frames`` overrides the
    frames per video; ``overrides`` go to :meth:`BlipVQA.answer`.
    """
    from ..datasets.vqa import pre_question

    if args:
        raise TypeError(f'video QA takes videos and questions; got {len(args)} extra arguments')
    questions = [
        pre_question(q) for q in one_per_input(questions, len(videos), 'question', 'video')
    ]
    batches = iter_video_batches(videos, build_video_pipeline(model, num_frames), batch_size)
    return answer_batches(model, batches, questions, method, overrides)


register_task('Text-To-Video Retrieval', ('BlipVideoRetrieval',), video_retrieval_inference)
register_task('Video Question Answering', ('BlipVideoVQA',), video_qa_inference)
