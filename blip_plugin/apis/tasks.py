"""The task table behind ``inference_model`` and the helpers its task inferencers share.

:data:`TASKS` maps a task name (mmpretrain's, as in the metafiles) to the model types that
serve it and the function that runs them; image tasks register in
:mod:`blip_plugin.apis.inference`, video tasks in :mod:`blip_plugin.apis.video`. The helpers
check per-input texts and run the batched answering and ranking loops that image and video
inputs share.
"""

from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence, Union

import torch
from torch import nn

__all__ = [
    'TaskInferencer',
    'TASKS',
    'register_task',
    'task_of',
    'one_per_input',
    'answer_batches',
    'retrieval_texts',
    'rank_pairs',
]


@dataclass(frozen=True)
class TaskInferencer:
    """How one task runs.

    Args:
        model_types: class names of the models that serve the task.
        run: ``run(model, images, *args, batch_size=..., **kwargs) -> list[dict]``, one dict
            per image, for a list of images (paths, PIL images or arrays).
    """

    model_types: tuple
    run: Callable[..., list]
    takes_pairs: bool = False  # an input is a pair of images (NLVR2)


TASKS: dict = {}


def register_task(
    task: str, model_types: tuple, run: Callable[..., list], takes_pairs: bool = False
) -> None:
    """Add (or replace) the inferencer of ``task`` (mmpretrain's task names, as in the
    metafiles: 'Image Caption', 'Visual Question Answering', ...)."""
    TASKS[task] = TaskInferencer(tuple(model_types), run, takes_pairs)


def task_of(model: nn.Module) -> str:
    """The task a built model serves, from its class.

    Raises:
        NotImplementedError: a model no task inferencer serves.
    """
    name = type(model).__name__
    for task, inferencer in TASKS.items():
        if name in inferencer.model_types:
            return task
    served = {t: list(i.model_types) for t, i in TASKS.items()}
    raise NotImplementedError(f'no inference is registered for {name}; served: {served}')


def one_per_input(texts: Union[str, Sequence[str]], n: int, what: str, per: str) -> list:
    """One text for every input (a str) or one per input (a list of ``n``), all non-empty;
    else a ValueError in one sentence (``what``: 'question', ...; ``per``: 'image', ...)."""
    texts = [texts] * n if isinstance(texts, str) else list(texts)
    if len(texts) != n or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError(
            f'{len(texts)} {what}s for {n} {per}s: give one non-empty {what}, or one per {per}'
        )
    return texts


def answer_batches(
    model: nn.Module, batches: Iterable, questions: list, method: Optional[str], overrides: dict
) -> list:
    """``model.answer`` over the batches, the i-th question for the i-th input."""
    results, start = [], 0
    for batch in batches:
        inputs = model.data_preprocessor(batch, False)['inputs']  # (B, 3, H, W) / (B, F, 3, H, W)
        n = inputs.shape[0]
        answers = model.answer(inputs, questions[start : start + n], method=method, **overrides)
        results.extend({'pred_answer': a} for a in answers)
        start += n
    return results


def retrieval_texts(texts: Union[str, Sequence[str]], what: str) -> tuple:
    """``(texts as a list, whether one text ranks the inputs)``, checked non-empty."""
    rank_inputs = isinstance(texts, str)
    texts = [texts] if rank_inputs else list(texts)
    if not texts or not all(isinstance(t, str) and t for t in texts):
        raise ValueError(f'{what} needs one text or a list of non-empty texts')
    return texts, rank_inputs


def rank_pairs(
    model: nn.Module, batches: Iterable, texts: list, rank_inputs: bool, key: str
) -> list:
    """ITM and ITC scores of every (input, text) pair, ranked by ITM, best first.

    ``rank_inputs``: one ranking of the inputs for the one text (``{key: position, 'itm_score',
    'itc_similarity'}``); else one ranking of the texts per input (``{'text', ...}``).
    """
    text_feat = model.encode_text(texts)  # (T, E)
    itm, itc = [], []
    for batch in batches:
        inputs = model.data_preprocessor(batch, False)['inputs']  # (B, 3, H, W) / (B, F, 3, H, W)
        itc.append(model.encode_image(inputs) @ text_feat.t())  # (B, T)
        itm.append(model.itm_matrix(inputs, texts))  # (B, T)
    itm_all, itc_all = torch.cat(itm).float().cpu(), torch.cat(itc).float().cpu()  # (N, T)

    def ranked(columns: list) -> list:  # (extra fields, row, column) per pair
        rows = [
            dict(name, itm_score=float(itm_all[n, j]), itc_similarity=float(itc_all[n, j]))
            for name, n, j in columns
        ]
        return sorted(rows, key=lambda r: -r['itm_score'])

    if rank_inputs:
        return ranked([({key: n}, n, 0) for n in range(len(itm_all))])
    return [ranked([({'text': t}, n, j) for j, t in enumerate(texts)]) for n in range(len(itm_all))]
