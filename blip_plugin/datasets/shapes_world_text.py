"""Shapes-world texts: captions, VQA questions, NLVR2 statements, referring expressions.

Every text is built from the closed word list :data:`WORDS`, which is also the tokenizer's
vocabulary (``make_shapes_world`` checks this), so a generated text never tokenizes to
``[UNK]``.
"""

import string
from typing import List, Sequence, Tuple

import numpy as np

from .shapes_world_scene import COLOURS, KINDS, POSITIONS, SIZES, Shape

__all__ = [
    'WORDS',
    'GENERIC_CAPTIONS',
    'CAPTION_PROMPT',
    'captions_for',
    'questions_for',
    'nlvr_example',
    'referring_expressions',
    'answer_candidates',
    'vocab_tokens',
]

PLACE = {
    'left': 'on the left',
    'right': 'on the right',
    'top': 'at the top',
    'bottom': 'at the bottom',
    'centre': 'in the centre',
}
NUMBER_WORDS = ('zero', 'one', 'two', 'three')
GENERIC_CAPTIONS = ('a picture', 'image', 'photo of things', 'a photo', 'an image of something')
CAPTION_PROMPT = 'a picture of'  # BLIP's caption prompt (configs/caption_coco.yaml)
TEMPLATE_WORDS = (
    'a an the and there is are with shape shapes image picture photo of things something '
    'on in at left right top bottom centre what color how many more than contains contain '
    'both exactly same number as yes no images'
).split()
WORDS = sorted(
    set(TEMPLATE_WORDS)
    | set(COLOURS)
    | set(KINDS)
    | set(SIZES)
    | set(POSITIONS)
    | set(NUMBER_WORDS)
    | {w for text in GENERIC_CAPTIONS + (CAPTION_PROMPT,) for w in text.split()}
)


def vocab_tokens() -> List[str]:
    """The WordPiece vocabulary: BERT's specials, the words, then single characters.

    Single characters (and their ``##`` continuations) let any lowercase ASCII word or number
    tokenize without ``[UNK]``, e.g. after :class:`BlipCleanCaption` on outside text.
    """
    specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    chars = list(string.ascii_lowercase + string.digits)
    punct = list(string.punctuation)
    tokens = specials + WORDS
    for tok in punct + chars + [f'##{c}' for c in chars]:
        if tok not in tokens:
            tokens.append(tok)
    return tokens


def _article(phrase: str) -> str:
    return ('an ' if phrase[0] in 'aeiou' else 'a ') + phrase


def _join(phrases: Sequence[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ', '.join(phrases[:-1]) + ' and ' + phrases[-1]


def _count(n: int, noun: str = 'shape') -> str:
    return f'{NUMBER_WORDS[n]} {noun}{"" if n == 1 else "s"}'


def captions_for(shapes: Sequence[Shape]) -> List[str]:
    """Five paraphrases naming every shape, in position order."""
    plain = [_article(f'{s.colour} {s.kind}') for s in shapes]
    sized = [_article(f'{s.size} {s.colour} {s.kind}') for s in shapes]
    placed = [f'{p} {PLACE[s.position]}' for p, s in zip(plain, shapes)]
    return [
        _join(sized),
        f'there is {_join(placed)}',
        f'an image with {_count(len(shapes))}, {_join(plain)}',
        f'a picture of {_join(plain)}',
        _join([f'{p} {PLACE[s.position]}' for p, s in zip(sized, shapes)]),
    ]


def questions_for(shapes: Sequence[Shape], rng: np.random.Generator) -> List[Tuple[str, str]]:
    """Three (question, answer) pairs: a colour, a count and an existence question."""
    qa = []
    kinds = [s.kind for s in shapes]
    unique = [s for s in shapes if kinds.count(s.kind) == 1]
    if unique:
        s = unique[int(rng.integers(len(unique)))]
        qa.append((f'what color is the {s.kind}?', s.colour))
    else:  # every kind repeats: ask for the colour at a position instead
        s = shapes[int(rng.integers(len(shapes)))]
        qa.append((f'what color is the shape {PLACE[s.position]}?', s.colour))
    if rng.random() < 0.5:
        qa.append(('how many shapes are there?', str(len(shapes))))
    else:
        colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
        n = sum(s.colour == colour for s in shapes)
        qa.append((f'how many {colour} shapes are there?', str(n)))
    if rng.random() < 0.5:  # ask about a present shape half of the time
        s = shapes[int(rng.integers(len(shapes)))]
        colour, kind = s.colour, s.kind
    else:
        colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
        kind = KINDS[int(rng.integers(len(KINDS)))]
    present = any(s.colour == colour and s.kind == kind for s in shapes)
    qa.append((f'is there {_article(f"{colour} {kind}")}?', 'yes' if present else 'no'))
    return qa


def answer_candidates() -> List[str]:
    """Every answer a question can have: colours, counts 0-3, yes and no."""
    return list(COLOURS) + [str(n) for n in range(4)] + ['yes', 'no']


def nlvr_example(
    left: Sequence[Shape], rights: Sequence[Sequence[Shape]], rng: np.random.Generator
) -> Tuple[int, str, bool]:
    """A statement about the left image and one of ``rights``, and whether it holds.

    The label is drawn first (fair coin), then a statement family (shape counts, or a shape
    of the left image being in both / exactly one image), then a right image that gives the
    statement that label. The statement is chosen without looking at the right images, so
    the text alone does not tell the label (a text-only model stays near 50%): the model
    must compare the two images.

    Returns:
        (index into ``rights``, statement, label).
    """
    label = bool(rng.random() < 0.5)
    things = sorted({f'{t.colour} {t.kind}' for t in left})
    n = len(left)
    families = [
        ('the left image contains more shapes than the right image', lambda r: n > len(r)),
        ('the right image contains more shapes than the left image', lambda r: len(r) > n),
        ('both images contain the same number of shapes', lambda r: len(r) == n),
    ]
    thing = things[int(rng.integers(len(things)))]
    has = lambda r: thing in {f'{t.colour} {t.kind}' for t in r}  # noqa: E731
    families += [
        (f'both images contain {_article(thing)}', has),
        (f'exactly one image contains {_article(thing)}', lambda r: not has(r)),
    ]
    for f in rng.permutation(len(families)):
        sentence, holds = families[int(f)]
        fits = [k for k, r in enumerate(rights) if holds(r) == label]
        if fits:
            return fits[int(rng.integers(len(fits)))], sentence, label
    raise ValueError('no right image gives any statement either label; pass more candidates')


def referring_expressions(shapes: Sequence[Shape], index: int) -> List[str]:
    """Expressions that single out ``shapes[index]``: the shortest unique one first."""
    target = shapes[index]
    others = [s for i, s in enumerate(shapes) if i != index]

    def unique(*attrs: str) -> bool:
        return all(any(getattr(o, a) != getattr(target, a) for a in attrs) for o in others)

    exprs = []
    for attrs in (('kind',), ('colour', 'kind'), ('size', 'colour', 'kind')):
        if unique(*attrs):
            exprs.append('the ' + ' '.join(getattr(target, a) for a in attrs))
            break
    exprs.append(f'the {target.size} {target.kind} {PLACE[target.position]}')
    exprs.append(f'the {target.colour} shape {PLACE[target.position]}')
    return exprs
