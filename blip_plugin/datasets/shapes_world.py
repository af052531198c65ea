"""The shapes world: a deterministic synthetic dataset in the real datasets' file formats.

``make_shapes_world(root)`` draws small PNG images of 1-3 coloured shapes and writes, under
``root``::

    meta.json                                  generator args and counts (returned)
    images/{split}/{split}_{id:05d}.png        split in train/val/test; ids are global
                                               (train 0.., then val, then test), so an id
                                               names one image across every annotation
    annotations/
      caption_train.json                       Karpathy (official BLIP) train: one entry per
                                               caption {"image", "caption", "image_id":
                                               "shapes_<id>"}
      caption_{val,test}.json                  {"image", "caption": [5 captions]}
      caption_{val,test}_gt.json               COCO-format ground truth for COCOCaptionMetric
                                               (image id = the int in the file name)
      vqa_train.json                           official BLIP VQA: {"question_id", "image",
                                               "question", "answer": [10], "dataset": "vqa"}
      vqa_{val,test}.json                      {"question_id", "image", "question"}
      vqa_{val,test}_answers.json              {"question_id", "answer": [10]}
      answer_list.json                         every candidate answer
      nlvr_{train,dev,test}.json               official BLIP NLVR2 (4 statements per train
                                               image, 1 per val/test image): {"images": [a, b],
                                               "sentence", "label": "True"/"False"}
      refcoco/instances.json, refcoco/refs(unc).p
                                               what mmpretrain's RefCOCO reads; splits
                                               train/val/testA/testB (test images with an
                                               even id -> testA, odd -> testB); bbox is
                                               pixel xywh
      web_pairs.json                           official pre-training list {"image", "caption"}
                                               over the train images, ``noise_fraction`` of
                                               them noisy (another image's caption or a
                                               generic one)
      web_pairs_truth.json                     per pair {"image", "is_noisy", "noise"}
    visdial/visdial_1.0_{train,val}.json, visdial/visdial_1.0_val_dense_annotations.json
                                               VisDial v1.0 dialogs over the train / val
                                               images (shapes_world_dialog.py)
    tokenizer/vocab.txt, tokenizer/tokenizer_config.json
                                               a BERT WordPiece vocabulary covering every
                                               generated word ([PAD] has id 0)

Retrieval (image-text, both directions) uses the caption files: train on
``caption_train.json``, evaluate on ``caption_{val,test}.json``, as BLIP's COCO retrieval
uses the Karpathy caption files.
"""

import json
import os
import os.path as osp
import pickle
import re
from typing import Dict, Iterable, List, Sequence

import numpy as np

from .shapes_world_dialog import write_visdial
from .shapes_world_scene import KINDS, draw_scene, sample_scene
from .shapes_world_text import (
    CAPTION_PROMPT,
    GENERIC_CAPTIONS,
    answer_candidates,
    captions_for,
    nlvr_example,
    questions_for,
    referring_expressions,
    vocab_tokens,
)

__all__ = ['make_shapes_world', 'FORMAT_VERSION', 'SPLITS']

FORMAT_VERSION = 3  # 2: NLVR2 statements that do not give away the label, 4 per train image
# 3: visdial/ (VisDial v1.0 dialogs, shapes_world_dialog.py)
SPLITS = ('train', 'val', 'test')
NLVR_SPLIT = {'train': 'train', 'val': 'dev', 'test': 'test'}  # official BLIP file names


def _dump_json(obj: object, path: str) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        f.write(json.dumps(obj))  # json.dumps uses the C encoder, json.dump does not


def _rng(seed: int, stream: int) -> np.random.Generator:
    # One stream per annotation kind, so changing one kind leaves the others (and the images)
    # unchanged.
    return np.random.default_rng([seed, stream])


def _check_vocab(texts: Iterable[str], vocab: Sequence[str]) -> None:
    known = set(vocab)
    for text in texts:
        for word in re.findall(r'[a-z0-9]+|[^\sa-z0-9]', text.lower()):
            if word not in known:
                raise RuntimeError(f'shapes-world word {word!r} (in {text!r}) is not in WORDS')


def _write_captions(ann_dir: str, drawn: Dict[str, list]) -> Dict[str, List[List[str]]]:
    """Write the Karpathy caption files and the COCO-format ground truth; return captions."""
    captions = {}
    for split, items in drawn.items():
        caps = captions[split] = [captions_for(shapes) for _, _, shapes in items]
        if split == 'train':  # one entry per caption
            entries = [
                dict(image=p, caption=c, image_id=f'shapes_{i}')
                for (p, i, _), cs in zip(items, caps)
                for c in cs
            ]
        else:  # one entry per image, and the ground truth COCOCaptionMetric reads
            entries = [dict(image=p, caption=cs) for (p, _, _), cs in zip(items, caps)]
            flat = [(i, c) for (_, i, _), cs in zip(items, caps) for c in cs]
            gt = dict(
                images=[dict(id=i) for _, i, _ in items],
                annotations=[dict(image_id=i, caption=c, id=k) for k, (i, c) in enumerate(flat)],
            )
            _dump_json(gt, osp.join(ann_dir, f'caption_{split}_gt.json'))
        _dump_json(entries, osp.join(ann_dir, f'caption_{split}.json'))
    return captions


def _vqa(worlds: Dict[str, list], seed: int) -> Dict[str, list]:
    rng, qid, out = _rng(seed, 1), 0, {}
    candidates = answer_candidates()
    for split, items in worlds.items():
        entries = []
        for image, _, shapes in items:
            for question, answer in questions_for(shapes, rng):
                # Ten annotator answers, mostly the true one (VQA v2 has 10 per question).
                pool = [a for a in candidates if _same_type(a, answer) and a != answer]
                answers = [answer] * int(rng.integers(7, 11))
                answers += [pool[int(rng.integers(len(pool)))] for _ in range(10 - len(answers))]
                order = rng.permutation(10).tolist()
                answers = [answers[i] for i in order]
                entry = dict(question_id=qid, image=image, question=question, answer=answers)
                entries.append(entry)
                qid += 1
        out[split] = entries
    return out


def _same_type(a: str, b: str) -> bool:
    def kind(x: str) -> str:
        return 'number' if x.isdigit() else 'yesno' if x in ('yes', 'no') else 'colour'

    return kind(a) == kind(b)


# NLVR2 statements per left image: one bit of supervision each, so the train split gets more
NLVR_PER_IMAGE = {'train': 4, 'val': 1, 'test': 1}


def _nlvr(worlds: Dict[str, list], seed: int) -> Dict[str, list]:
    rng, out = _rng(seed, 2), {}
    for split, items in worlds.items():
        holders: Dict[tuple, List[int]] = {}  # (colour, kind) -> images holding one
        for k, (_, _, shapes) in enumerate(items):
            for thing in sorted({(t.colour, t.kind) for t in shapes}):
                holders.setdefault(thing, []).append(k)
        entries = []
        for i, (_, _, shapes) in [
            p for p in enumerate(items) for _ in range(NLVR_PER_IMAGE[split])
        ]:
            # right-image candidates: random images, and images sharing a shape with the
            # left one (for "both images contain ...")
            cand = [int(j) for j in rng.integers(len(items), size=16)]
            for t in shapes:
                pool = holders[(t.colour, t.kind)]
                cand += [pool[int(j)] for j in rng.integers(len(pool), size=4)]
            cand = [j for j in dict.fromkeys(cand) if j != i] or [(i + 1) % len(items)]
            k, sentence, label = nlvr_example(shapes, [items[j][2] for j in cand], rng)
            entries.append(
                dict(images=[items[i][0], items[cand[k]][0]], sentence=sentence, label=str(label))
            )
        out[split] = entries
    return out


def _refcoco(worlds: Dict[str, list], image_size: int) -> tuple:
    images, anns, refs = [], [], []
    categories = [dict(id=i + 1, name=k) for i, k in enumerate(KINDS)]
    sent_id = 0
    for split, items in worlds.items():
        for image, image_id, shapes in items:
            images.append(dict(id=image_id, file_name=image, height=image_size, width=image_size))
            ref_split = split if split != 'test' else ('testA' if image_id % 2 == 0 else 'testB')
            for k, shape in enumerate(shapes):
                ann_id = len(anns)
                category_id = KINDS.index(shape.kind) + 1
                x, y, w, h = shape.box
                anns.append(
                    dict(
                        id=ann_id,
                        image_id=image_id,
                        bbox=[x, y, w, h],
                        area=round(w * h, 2),
                        category_id=category_id,
                        iscrowd=0,
                    )
                )
                sentences = []
                for expr in referring_expressions(shapes, k):
                    sentences.append(
                        dict(tokens=expr.split(), raw=expr, sent_id=sent_id, sent=expr)
                    )
                    sent_id += 1
                refs.append(
                    dict(
                        ref_id=len(refs),
                        ann_id=ann_id,
                        image_id=image_id,
                        split=ref_split,
                        sentences=sentences,
                        file_name=image,
                        category_id=category_id,
                        sent_ids=[s['sent_id'] for s in sentences],
                    )
                )
    return dict(images=images, annotations=anns, categories=categories), refs


def _web_pairs(train: list, noise_fraction: float, seed: int) -> tuple:
    rng = _rng(seed, 3)
    n = len(train)
    num_noisy = int(round(noise_fraction * n))
    noisy = sorted(rng.choice(n, size=num_noisy, replace=False).tolist()) if num_noisy else []
    kinds = {i: ('mismatched' if k % 2 == 0 and n > 1 else 'generic') for k, i in enumerate(noisy)}
    pairs, truth = [], []
    for i, (image, captions, _) in enumerate(train):
        noise = kinds.get(i)
        if noise == 'mismatched':  # a caption of another image with a different description
            others = [j for j in range(n) if train[j][1][0] != captions[0]] or [(i + 1) % n]
            other = train[others[int(rng.integers(len(others)))]][1]
            caption = other[int(rng.integers(len(other)))]
        elif noise == 'generic':
            caption = GENERIC_CAPTIONS[int(rng.integers(len(GENERIC_CAPTIONS)))]
        else:
            caption = captions[int(rng.integers(len(captions)))]
        pairs.append(dict(image=image, caption=caption))
        truth.append(dict(image=image, is_noisy=noise is not None, noise=noise or 'clean'))
    return pairs, truth


def _write_tokenizer(root: str) -> int:
    tok_dir = osp.join(root, 'tokenizer')
    os.makedirs(tok_dir, exist_ok=True)
    tokens = vocab_tokens()
    with open(osp.join(tok_dir, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(tokens) + '\n')
    config = dict(tokenizer_class='BertTokenizer', do_lower_case=True, model_max_length=512)
    _dump_json(config, osp.join(tok_dir, 'tokenizer_config.json'))
    return len(tokens)


def _draw_split(
    root: str, split: str, start: int, count: int, image_size: int, rng: np.random.Generator
) -> list:
    os.makedirs(osp.join(root, 'images', split), exist_ok=True)
    items = []
    for image_id in range(start, start + count):
        shapes, spec = sample_scene(rng, image_size)
        rel = f'images/{split}/{split}_{image_id:05d}.png'
        draw_scene(shapes, spec, image_size).save(osp.join(root, rel), format='PNG')
        items.append((rel, image_id, shapes))
    return items


def make_shapes_world(
    root: str,
    num_train: int = 2000,
    num_val: int = 200,
    num_test: int = 200,
    image_size: int = 64,
    seed: int = 0,
    noise_fraction: float = 0.3,
) -> dict:
    """Generate the shapes world under ``root`` (layout in the module docstring).

    The same arguments give byte-identical files.

    Args:
        root: output directory, created if needed; existing files are overwritten.
        num_train: train images. Defaults to 2000.
        num_val: val images. Defaults to 200.
        num_test: test images. Defaults to 200.
        image_size: side of the square images in pixels. Defaults to 64.
        seed: seed of every random choice. Defaults to 0.
        noise_fraction: fraction of noisy pairs in ``web_pairs.json``. Defaults to 0.3.

    Returns:
        The content of ``meta.json``: ``args``, ``counts`` and ``format_version``.
    """
    counts = dict(train=num_train, val=num_val, test=num_test)
    if min(counts.values()) < 1 or image_size < 16 or not 0.0 <= noise_fraction <= 1.0:
        raise ValueError(
            f'need >= 1 image per split, image_size >= 16 and 0 <= noise_fraction <= 1, got '
            f'counts {counts}, image_size {image_size}, noise_fraction {noise_fraction}'
        )
    ann_dir = osp.join(root, 'annotations')
    os.makedirs(osp.join(ann_dir, 'refcoco'), exist_ok=True)

    scene_rng, start, drawn = _rng(seed, 0), 0, {}
    for split in SPLITS:
        drawn[split] = _draw_split(root, split, start, counts[split], image_size, scene_rng)
        start += counts[split]
    # drawn[split] = [(image path relative to root, image id, shapes)]
    captions = _write_captions(ann_dir, drawn)
    texts: List[str] = [CAPTION_PROMPT] + [c for cs in captions.values() for c5 in cs for c in c5]
    train_caps = [(p, cs, sh) for (p, _, sh), cs in zip(drawn['train'], captions['train'])]

    vqa = _vqa(drawn, seed)
    for split, entries in vqa.items():
        texts += [e['question'] for e in entries] + [a for e in entries for a in e['answer']]
        if split == 'train':
            _dump_json(
                [dict(e, dataset='vqa') for e in entries], osp.join(ann_dir, 'vqa_train.json')
            )
        else:
            questions = [{k: e[k] for k in ('question_id', 'image', 'question')} for e in entries]
            answers = [dict(question_id=e['question_id'], answer=e['answer']) for e in entries]
            _dump_json(questions, osp.join(ann_dir, f'vqa_{split}.json'))
            _dump_json(answers, osp.join(ann_dir, f'vqa_{split}_answers.json'))
    _dump_json(answer_candidates(), osp.join(ann_dir, 'answer_list.json'))

    nlvr = _nlvr(drawn, seed)
    for split, entries in nlvr.items():
        texts += [e['sentence'] for e in entries]
        _dump_json(entries, osp.join(ann_dir, f'nlvr_{NLVR_SPLIT[split]}.json'))

    instances, refs = _refcoco(drawn, image_size)
    texts += [s['sent'] for r in refs for s in r['sentences']]
    _dump_json(instances, osp.join(ann_dir, 'refcoco', 'instances.json'))
    with open(osp.join(ann_dir, 'refcoco', 'refs(unc).p'), 'wb') as f:
        pickle.dump(refs, f, protocol=4)

    pairs, truth = _web_pairs(train_caps, noise_fraction, seed)
    texts += [p['caption'] for p in pairs]
    _dump_json(pairs, osp.join(ann_dir, 'web_pairs.json'))
    _dump_json(truth, osp.join(ann_dir, 'web_pairs_truth.json'))

    visdial_rounds, visdial_texts = write_visdial(root, drawn, seed)
    texts += visdial_texts

    vocab_size = _write_tokenizer(root)
    _check_vocab(texts, vocab_tokens())

    meta = dict(
        name='shapes_world',
        format_version=FORMAT_VERSION,
        args=dict(
            num_train=num_train,
            num_val=num_val,
            num_test=num_test,
            image_size=image_size,
            seed=seed,
            noise_fraction=noise_fraction,
        ),
        counts=dict(
            images=counts,
            captions={s: 5 * n for s, n in counts.items()},
            vqa_questions={s: len(e) for s, e in vqa.items()},
            nlvr_pairs={s: len(e) for s, e in nlvr.items()},
            refcoco_refs={
                s: sum(r['split'] == s for r in refs) for s in ('train', 'val', 'testA', 'testB')
            },
            web_pairs=len(pairs),
            web_noisy=sum(t['is_noisy'] for t in truth),
            visdial_rounds=visdial_rounds,
            vocab_size=vocab_size,
        ),
    )
    _dump_json(meta, osp.join(root, 'meta.json'))
    return meta
