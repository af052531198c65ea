"""One call from images to answers: ``inference_model(model, images)``.

Tasks are dispatched through :data:`blip_plugin.apis.tasks.TASKS`; the image tasks (caption,
VQA, retrieval, grounding, NLVR2, visual dialog) register their inferencers here.
"""

import os
from typing import Any, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import nn

from ..registry import SCOPE, TRANSFORMS
from .model import get_model
from .pipeline import build_inference_pipeline, iter_batches
from .tasks import (
    TASKS,
    answer_batches,
    one_per_input,
    rank_pairs,
    register_task,
    retrieval_texts,
    task_of,
)

__all__ = [
    'inference_model',
    'register_task',
    'task_of',
    'TASKS',
    'vqa_inference',
    'retrieval_inference',
    'caption_inference',
    'grounding_inference',
    'nlvr_inference',
    'visdial_inference',
]


@torch.no_grad()
def caption_inference(
    model: nn.Module, images: list, *args, batch_size: int = 8, **generation
) -> list:
    """Caption images with a ``BlipCaption``: ``[{'pred_caption': str}, ...]``.

    ``generation`` overrides the model's generation settings for this call (e.g.
    ``num_beams=5`` or ``strategy='sample', top_p=0.9``).
    """
    if args:
        raise TypeError(f'captioning takes only images; got {len(args)} extra positional arguments')
    pipeline = build_inference_pipeline(getattr(model, 'cfg', None), model)
    results = []
    for batch in iter_batches(images, pipeline, batch_size):
        data = model.data_preprocessor(batch, False)
        samples = model.predict(data['inputs'], data['data_samples'], **generation)
        results.extend({'pred_caption': s.pred_caption} for s in samples)
    return results


register_task('Image Caption', ('BlipCaption',), caption_inference)


@torch.no_grad()
def vqa_inference(
    model: nn.Module,
    images: list,
    questions: Union[str, Sequence[str]],
    *args,
    batch_size: int = 8,
    method: Optional[str] = None,
    **overrides,
) -> list:
    """Answer questions about images with a ``BlipVQA``: ``[{'pred_answer': str}, ...]``.

    ``questions``: one question for every image, or one per image. ``method``: 'rank' (over
    the model's answer list) or 'generate'; None keeps the model's setting.
    """
    from ..datasets.vqa import pre_question

    if args:
        raise TypeError(f'VQA takes images and questions; got {len(args)} extra arguments')
    questions = [
        pre_question(q) for q in one_per_input(questions, len(images), 'question', 'image')
    ]
    pipeline = build_inference_pipeline(getattr(model, 'cfg', None), model)
    batches = iter_batches(images, pipeline, batch_size)
    return answer_batches(model, batches, questions, method, overrides)


register_task('Visual Question Answering', ('BlipVQA',), vqa_inference)


@torch.no_grad()
def retrieval_inference(
    model: nn.Module,
    images: list,
    texts: Union[str, Sequence[str]],
    *args,
    batch_size: int = 8,
) -> list:
    """Rank texts for images, or images for a text, with a ``BlipRetrieval``.

    Every (image, text) pair gets its ITM match probability (``itm_score``, the image-grounded
    encoder with ``[ENC]`` first, as the official model) and its ITC cosine similarity
    (``itc_similarity``, unimodal encoders with ``[CLS]`` first). Rankings are by
    ``itm_score``, best first.

    Args:
        texts: a list of texts ranks them for every image: one list per image of
            ``{'text', 'itm_score', 'itc_similarity'}``. One text (a str) ranks the images
            for it: one list over the images of ``{'image_index', 'itm_score',
            'itc_similarity'}``, ``image_index`` being the image's position in ``images``
            (through :func:`inference_model`, one image then gives its one dict).
    """
    if args:
        raise TypeError(f'retrieval takes images and texts; got {len(args)} extra arguments')
    texts, rank_inputs = retrieval_texts(texts, 'retrieval')
    pipeline = build_inference_pipeline(getattr(model, 'cfg', None), model)
    batches = iter_batches(images, pipeline, batch_size)
    return rank_pairs(model, batches, texts, rank_inputs, 'image_index')


# the metafiles name retrieval by direction; one inferencer serves both
register_task('Image-To-Text Retrieval', ('BlipRetrieval',), retrieval_inference)


@torch.no_grad()
def grounding_inference(
    model: nn.Module,
    images: list,
    texts: Union[str, Sequence[str]],
    *args,
    batch_size: int = 8,
) -> list:
    """Find the object a referring expression names with a ``BlipGrounding``:
    ``[{'pred_bboxes': (1, 4) tensor, 'text': str}, ...]``, the box x1, y1, x2, y2 in the
    pixels of the given image (draw it with
    :func:`blip_plugin.visualization.draw_box_and_text`).

    ``texts``: one expression for every image, or one per image.
    """
    from ..datasets.transforms.clean_caption import pre_caption
    from .pipeline import inference_pipeline_cfg

    if args:
        raise TypeError(f'grounding takes images and texts; got {len(args)} extra arguments')
    texts = one_per_input(texts, len(images), 'expression', 'image')
    texts = [pre_caption(t, model.max_txt_len) for t in texts]
    # the expressions are cleaned above, not by the pipeline (whose samples hold no text)
    steps = inference_pipeline_cfg(getattr(model, 'cfg', None), model)
    steps = [t for t in steps if not str(t.get('type', '')).endswith('CleanCaption')]
    pipeline = build_inference_pipeline(Config(dict(test_pipeline=steps)), model)
    results, start = [], 0
    for batch in iter_batches(images, pipeline, batch_size):
        data = model.data_preprocessor(batch, False)
        samples = data['data_samples']
        for sample, text in zip(samples, texts[start : start + len(samples)]):
            sample.text = text
        for sample in model.predict(data['inputs'], samples):
            results.append(dict(pred_bboxes=sample.pred_bboxes, text=sample.text))
        start += len(samples)
    return results


register_task('Visual Grounding', ('BlipGrounding',), grounding_inference)


@torch.no_grad()
def nlvr_inference(
    model: nn.Module,
    pairs: list,
    texts: Union[str, Sequence[str]],
    *args,
    batch_size: int = 8,
) -> list:
    """Judge statements about pairs of images with a ``BlipNLVR``: ``[{'pred_label': bool,
    'pred_score': float}, ...]``, ``pred_score`` the probability that the statement is true.

    ``pairs``: a list of (left image, right image) pairs; ``texts``: one statement for every
    pair, or one per pair (cleaned as the NLVR2 dataset does).
    """
    from mmengine.dataset import pseudo_collate

    from ..datasets.transforms.clean_caption import pre_caption
    from .pipeline import default_inference_pipeline, load_image

    if args:
        raise TypeError(f'NLVR2 takes image pairs and statements; got {len(args)} extra arguments')
    for n, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f'NLVR2 input {n} must be a pair of images (left, right)')
    texts = [pre_caption(t, 40) for t in one_per_input(texts, len(pairs), 'statement', 'pair')]
    resize, pack = default_inference_pipeline(model.vision_encoder.img_size)
    with DefaultScope.overwrite_default_scope(SCOPE):
        resize, pack = TRANSFORMS.build(resize), TRANSFORMS.build(pack)
        stack = TRANSFORMS.build(dict(type='StackImagePair'))
    results = []
    for start in range(0, len(pairs), batch_size):
        packed = []
        for n, pair in enumerate(pairs[start : start + batch_size]):
            both = [resize(load_image(img, 2 * (start + n) + i)) for i, img in enumerate(pair)]
            packed.append(pack(stack(dict(img=[r['img'] for r in both]))))
        data = model.data_preprocessor(pseudo_collate(packed), False)
        probs = model.verify(data['inputs'], texts[start : start + len(packed)])
        results += [dict(pred_label=bool(p > 0.5), pred_score=float(p)) for p in probs]
    return results


register_task('NLVR', ('BlipNLVR',), nlvr_inference, takes_pairs=True)


@torch.no_grad()
def visdial_inference(
    model: nn.Module,
    images: list,
    questions: Union[str, Sequence[str]],
    candidates: Sequence,
    *args,
    captions: Union[str, Sequence[str]] = '',
    history: Sequence = (),
    batch_size: int = 8,
) -> list:
    """Rank candidate answers to a dialog question about each image with a ``BlipVisDial``:
    ``[{'pred_answer': str, 'ranked_answers': [str], 'scores': [float]}, ...]``, best first.

    ``questions``: one for every image or one per image; ``candidates``: one list of answers
    for every image, or one list per image; ``captions``: the images' captions (one, or one
    per image; VisDial gives one with every image); ``history``: the earlier rounds of the
    dialog as [question, answer] pairs (the same for every image).
    """
    if args:
        raise TypeError(f'VisDial takes images, questions and candidates; got {len(args)} more')
    n = len(images)
    questions = one_per_input(questions, n, 'question', 'image')
    caps = [captions] * n if isinstance(captions, str) else list(captions)
    per_image = bool(candidates) and all(isinstance(c, (list, tuple)) for c in candidates)
    cands = [list(c) for c in candidates] if per_image else [list(candidates)] * n
    if len(caps) != n or len(cands) != n:
        raise ValueError(f'{n} images: give one caption and one answer list, or one per image')
    if any(not c or not all(isinstance(a, str) for a in c) for c in cands):
        raise ValueError('the candidate answers must be a non-empty list of str')
    history = [list(r) for r in history]
    if any(len(r) != 2 for r in history):
        raise ValueError('history: give the earlier rounds as [question, answer] pairs')
    pipeline = build_inference_pipeline(getattr(model, 'cfg', None), model)
    results, start = [], 0
    for batch in iter_batches(images, pipeline, batch_size):
        data = model.data_preprocessor(batch, False)
        for b in range(data['inputs'].shape[0]):
            i = start + b
            scores = model.rank_answers(
                data['inputs'][b : b + 1], caps[i], history, questions[i], cands[i]
            ).cpu()
            order = scores.argsort(descending=True, stable=True).tolist()
            ranked = [cands[i][k] for k in order]
            results.append(
                dict(pred_answer=ranked[0], ranked_answers=ranked, scores=scores[order].tolist())
            )
        start += data['inputs'].shape[0]
    return results


register_task('Visual Dialog', ('BlipVisDial',), visdial_inference)


def _default_device() -> str:
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def inference_model(
    model: Union[nn.Module, str, os.PathLike, Config],
    images: Any,
    *args,
    device: Optional[Union[str, torch.device]] = None,
    batch_size: int = 8,
    checkpoint: Optional[Union[str, os.PathLike, bool]] = None,
    cfg_options: Optional[dict] = None,
    **kwargs,
) -> Union[dict, list]:
    """Run a model on one image or a list of images.

    Args:
        model: a built model, a zoo name (:func:`list_models`), a config path or a Config.
        images: a path, a PIL image, an (H, W, 3) uint8 BGR array or tensor, or a list of
            them (run in batches of ``batch_size``).
            For NLVR2, a pair of images ``(left, right)`` or a list of pairs.
        *args: task inputs besides images (questions, texts), passed to the task inferencer.
        device: where to run; None keeps a built model where it is, and builds others on
            CUDA when available, else the CPU. Defaults to None.
        batch_size: images per forward pass. Defaults to 8.
        checkpoint: weights for a name or config (see :func:`init_model`). For a zoo name
            None loads the zoo's weights; for a config None loads its ``load_from`` if set.
            False keeps the initial weights. Ignored for a built model.
        cfg_options: dotted-key config overrides (names and configs only).
        **kwargs: passed to the task inferencer (for captions: generation settings).

    Returns:
        One dict for one image (``{'pred_caption': str}`` for captioning), a list of dicts for
        a list of images. Retrieval gives rankings instead (see :func:`retrieval_inference`):
        with a list of texts, the texts ranked for each image; with one text, the images
        ranked for it.

    Raises:
        ValueError: an unknown model name (with close matches), an array of the wrong shape.
        FileNotFoundError: an image path that does not exist (the path named).
    """
    if not isinstance(model, nn.Module):
        pretrained = True if checkpoint is None else checkpoint
        model = get_model(
            model,
            pretrained=pretrained,
            device=device or _default_device(),
            cfg_options=cfg_options,
        )
    elif device is not None:
        model = model.to(device)
    model.eval()
    inferencer = TASKS[task_of(model)]
    if inferencer.takes_pairs:  # one pair (a, b), or a list of pairs
        single = isinstance(images, (list, tuple)) and not isinstance(images[0], (list, tuple))
    else:
        single = not isinstance(images, (list, tuple))
    batch = [images] if single else list(images)
    results = inferencer.run(model, batch, *args, batch_size=batch_size, **kwargs)
    return results[0] if single else results
