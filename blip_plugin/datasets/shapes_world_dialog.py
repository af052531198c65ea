"""Shapes-world visual dialogs in the official VisDial v1.0 format.

``write_visdial(root, drawn, seed)`` writes, under ``root/visdial/``::

    visdial_1.0_train.json, visdial_1.0_val.json
        {"version": "1.0", "split", "data": {"questions": [str], "answers": [str],
         "dialogs": [{"image_id", "caption", "dialog": [{"question", "answer",
         "answer_options": [100 answer indices], "gt_index"}]}]}}
    visdial_1.0_val_dense_annotations.json
        [{"image_id", "round_id" (1-based), "gt_relevance": [100 floats]}], one round per dialog

The caption only gives the number of shapes. Each round asks about one attribute of one
shape, named by its position: its colour ("what color is the shape on the left?" -> "red"),
its kind ("what shape is at the top?" -> "a circle") or its size ("is the shape in the
centre large?" -> "yes"). No (position, attribute) is asked twice in a dialog, and colour,
kind and size are drawn independently per shape, so neither the question, the caption nor
the dialog history tells the answer: only the image does.

Every round's 100 candidates are the same 100 answers (:data:`ANSWERS`), shuffled per round,
so that which candidates are offered tells nothing either. Beside the true answer they hold
near-duplicates ("the shape is red", "a large red circle") that the dense annotations rate as
fully or partly relevant (1.0 / 0.5), as VisDial's annotators rate paraphrases.
"""

import json
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .shapes_world_scene import COLOURS, KINDS, SIZES, Shape
from .shapes_world_text import NUMBER_WORDS, PLACE

__all__ = ['Answer', 'ANSWERS', 'NUM_OPTIONS', 'relevance', 'dialog_for', 'write_visdial']

NUM_OPTIONS = 100
ATTRIBUTES = ('colour', 'kind', 'size')


class Answer(NamedTuple):
    """An answer and what it claims: ``polarity`` True/False for yes/no answers (None for
    a description), ``claims`` the attribute values it states, as (attribute, value)."""

    text: str
    polarity: Optional[bool]
    claims: Tuple[Tuple[str, str], ...]


def _a(phrase: str) -> str:
    return ('an ' if phrase[0] in 'aeiou' else 'a ') + phrase


def _answers() -> List[Answer]:
    C, K, Z = list(COLOURS), list(KINDS), list(SIZES)
    out = [Answer(c, None, (('colour', c),)) for c in C]  # canonical colour answer
    out += [Answer(_a(k), None, (('kind', k),)) for k in K]  # canonical kind answer
    out += [Answer('yes', True, ()), Answer('no', False, ())]  # canonical size answer
    out += [Answer(f'the shape is {c}', None, (('colour', c),)) for c in C]
    out += [Answer(_a(f'{c} shape'), None, (('colour', c),)) for c in C]
    out += [Answer(k, None, (('kind', k),)) for k in K]
    out += [Answer(f'the shape is {_a(k)}', None, (('kind', k),)) for k in K]
    out += [Answer(f'there is {_a(k)}', None, (('kind', k),)) for k in K]
    out += [Answer(_a(f'{c} {k}'), None, (('colour', c), ('kind', k))) for c in C for k in K]
    out += [Answer(_a(f'{z} {k}'), None, (('size', z), ('kind', k))) for z in Z for k in K]
    out += [
        Answer(_a(f'{z} {c} {k}'), None, (('size', z), ('colour', c), ('kind', k)))
        for z in Z
        for c in C
        for k in K
    ]
    out += [Answer(f'the shape is {z}', None, (('size', z),)) for z in Z]
    out += [Answer(_a(f'{z} shape'), None, (('size', z),)) for z in Z]
    out += [Answer(f'yes the shape is {z}', True, (('size', z),)) for z in Z]
    out += [Answer(f'no the shape is {z}', False, (('size', z),)) for z in Z]
    return out


# The answer pool: every round offers all of it (exactly NUM_OPTIONS answers).
ANSWERS: List[Answer] = _answers()
assert len(ANSWERS) == NUM_OPTIONS and len({a.text for a in ANSWERS}) == NUM_OPTIONS


class Question(NamedTuple):
    text: str
    shape: Shape
    attribute: str  # 'colour', 'kind' or 'size'
    size: str = ''  # the size a size question asks about


def relevance(answer: Answer, q: Question) -> float:
    """How right ``answer`` is for ``q``: 1.0 right, 0.5 right on what was asked but wrong on
    something else it claims, 0.0 wrong or not an answer (as VisDial's dense relevance, the
    share of annotators who accept it)."""
    truth = {a: getattr(q.shape, a) for a in ATTRIBUTES}
    wrong_claims = any(truth[a] != v for a, v in answer.claims)
    if q.attribute == 'size':
        if answer.polarity is None:  # "a large shape" answers "is it large?" indirectly
            said = dict(answer.claims).get('size')
            return 0.5 if said == truth['size'] and not wrong_claims else 0.0
        if answer.polarity != (truth['size'] == q.size):
            return 0.0
        return 0.5 if wrong_claims else 1.0
    said = dict(answer.claims).get(q.attribute)
    if answer.polarity is not None or said != truth[q.attribute]:
        return 0.0
    return 0.5 if wrong_claims else 1.0


def _question(shape: Shape, attribute: str, rng: np.random.Generator) -> Question:
    place = PLACE[shape.position]
    if attribute == 'colour':
        return Question(f'what color is the shape {place}?', shape, attribute)
    if attribute == 'kind':
        return Question(f'what shape is {place}?', shape, attribute)
    size = list(SIZES)[int(rng.integers(len(SIZES)))]
    return Question(f'is the shape {place} {size}?', shape, attribute, size)


def _gt_answer(q: Question) -> str:
    """The canonical answer: a colour word, 'a <kind>', or 'yes'/'no'."""
    if q.attribute == 'colour':
        return q.shape.colour
    if q.attribute == 'kind':
        return _a(q.shape.kind)
    return 'yes' if q.shape.size == q.size else 'no'


def dialog_for(
    shapes: Sequence[Shape], rng: np.random.Generator, max_rounds: int = 10
) -> Tuple[str, List[Question]]:
    """A caption and up to ``max_rounds`` questions, each about another (shape, attribute)."""
    caption = f'an image with {NUMBER_WORDS[len(shapes)]} shape{"" if len(shapes) == 1 else "s"}'
    facts = [(s, a) for s in shapes for a in ATTRIBUTES]
    order = rng.permutation(len(facts))[:max_rounds]
    return caption, [_question(*facts[int(i)], rng) for i in order]


def write_visdial(
    root: str, drawn: Dict[str, list], seed: int, max_rounds: int = 10
) -> Tuple[Dict[str, int], List[str]]:
    """Write the dialog split files (module docstring) for the ``train`` and ``val`` images of
    ``drawn`` ({split: [(image path, image id, shapes)]}).

    Returns:
        The rounds per split, and every text written (for the vocabulary check).
    """
    rng = np.random.default_rng([seed, 5])
    out_dir = osp.join(root, 'visdial')
    os.makedirs(out_dir, exist_ok=True)
    answer_index = {a.text: i for i, a in enumerate(ANSWERS)}
    counts, texts = {}, [a.text for a in ANSWERS]
    for split in ('train', 'val'):
        questions: Dict[str, int] = {}
        dialogs, dense = [], []
        for _, image_id, shapes in drawn[split]:
            caption, qs = dialog_for(shapes, rng, max_rounds)
            rounds = []
            for q in qs:
                options = rng.permutation(NUM_OPTIONS).tolist()
                gt = answer_index[_gt_answer(q)]
                rounds.append(
                    dict(
                        question=questions.setdefault(q.text, len(questions)),
                        answer=gt,
                        answer_options=options,
                        gt_index=options.index(gt),
                    )
                )
            dialogs.append(dict(image_id=image_id, caption=caption, dialog=rounds))
            if split == 'val':
                r = int(rng.integers(len(qs)))
                rel = [relevance(ANSWERS[o], qs[r]) for o in rounds[r]['answer_options']]
                dense.append(dict(image_id=image_id, round_id=r + 1, gt_relevance=rel))
        data = dict(questions=list(questions), answers=[a.text for a in ANSWERS], dialogs=dialogs)
        _dump(dict(version='1.0', split=split, data=data), f'{out_dir}/visdial_1.0_{split}.json')
        if split == 'val':
            _dump(dense, f'{out_dir}/visdial_1.0_val_dense_annotations.json')
        counts[split] = sum(len(d['dialog']) for d in dialogs)
        texts += list(questions) + [d['caption'] for d in dialogs]
    return counts, texts


def _dump(obj: object, path: str) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        f.write(json.dumps(obj))
