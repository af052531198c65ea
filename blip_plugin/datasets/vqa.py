"""VQA datasets: VQAv2 and Visual Genome QA in the official BLIP json format, the VQA API
format (VQAv2 / OK-VQA question and annotation files) and OCR-VQA (mmpretrain's format).

Every sample carries ``img_path``, ``question`` (cleaned as the official ``pre_question``),
``question_id`` and, where answers are known, ``gt_answer`` (distinct answers in order of first
appearance), ``gt_answer_weight`` (official data/vqa_dataset.py: each annotator adds
1/#answers to its answer; Visual Genome's single answer weighs 0.2) and ``gt_answer_count``
(annotators per distinct answer, which the VQA accuracy's leave-one-out needs).
"""

import json
import os.path as osp
import re
from typing import Any, Optional, Sequence, Union

import mmengine
from mmengine.dataset import BaseDataset
from mmengine.fileio import get_local_path

from ..registry import DATASETS

__all__ = [
    'pre_question',
    'answer_weights',
    'BlipVQADataset',
    'VQAOpenEndedDataset',
    'OCRVQADataset',
]

_QUESTION_PUNCT = re.compile(r'([.!\"()*#:;~])')


def pre_question(question: str, max_words: int = 50) -> str:
    """Official data/utils.py ``pre_question``: lower case, ``.!"()*#:;~`` deleted, trailing
    spaces stripped, cut to ``max_words`` words ('?' and ',' stay for the tokenizer)."""
    question = _QUESTION_PUNCT.sub('', question.lower()).rstrip(' ')
    words = question.split(' ')
    return ' '.join(words[:max_words]) if len(words) > max_words else question


def answer_weights(answers: Sequence[str]) -> tuple:
    """(distinct answers, weights, counts) as official vqa_dataset.py: each of the n answers
    adds 1/n to its distinct answer's weight."""
    counts: dict = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    n = len(answers)
    return list(counts), [c / n for c in counts.values()], list(counts.values())


def _load_json(path: str) -> Any:
    with get_local_path(path) as local, open(local, encoding='utf-8') as f:
        return json.load(f)


def _field(entry: Any, key: str, where: str, kind: Union[type, tuple]) -> Any:
    """``entry[key]``, or a ValueError naming the file, the entry and the key."""
    if not isinstance(entry, dict):
        raise ValueError(f'{where}: expected a JSON object, got {type(entry).__name__}')
    if key not in entry:
        raise ValueError(f'{where}: missing key {key!r} (keys: {sorted(entry)})')
    value = entry[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(
            f'{where}: {key!r} has type {type(value).__name__}, expected '
            f'{getattr(kind, "__name__", kind)}'
        )
    return value


def _answers(value: Any, where: str) -> list:
    answers = [value] if isinstance(value, str) else value
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise ValueError(
            f"{where}: 'answer' must be a str or a non-empty list of str, got {value!r}"
        )
    return answers


def _set_answers(info: dict, answers: list, weights: Optional[list] = None) -> dict:
    distinct, w, counts = answer_weights(answers)
    info.update(gt_answer=distinct, gt_answer_weight=weights or w, gt_answer_count=counts)
    return info


@DATASETS.register_module()
class BlipVQADataset(BaseDataset):
    """VQA annotations in the official BLIP json format (vqa_train.json, vqa_val.json,
    vqa_test.json, vg_qa.json; also LAVIS's OK-VQA / AOK-VQA files of the same layout).

    Each entry is ``{"question_id", "image", "question", "answer", "dataset"}``: ``answer``
    is the list of annotator answers (``dataset`` "vqa", the default) or one answer
    (``dataset`` "vg", weight ``vg_answer_weight``); test entries have no ``answer``. For
    training on VQAv2 + Visual Genome as the official recipe, concatenate one dataset per
    file (``ConcatDataset``), each with its own image root.

    Args:
        ann_file: the annotation json.
        data_root: joined before relative ``ann_file``, ``answer_file`` and ``data_prefix``.
        data_prefix: ``dict(img_path=...)``, joined before every ``image``.
        answer_file: optional json of ``[{"question_id", "answer": [...]}]`` giving the answers
            of entries that have none (the shapes world's val/test split, or ground truth kept
            apart). Defaults to None.
        max_words: questions are cut to this many words. Defaults to 50 (official).
        vg_answer_weight: weight of a Visual Genome answer. Defaults to 0.2 (official).
        **kwargs: other :class:`mmengine.dataset.BaseDataset` arguments (``pipeline``,
            ``test_mode``, ...).
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix: Optional[dict] = None,
        answer_file: Optional[str] = None,
        max_words: int = 50,
        vg_answer_weight: float = 0.2,
        **kwargs,
    ) -> None:
        self.answer_file = answer_file
        if answer_file and data_root and not osp.isabs(answer_file):
            self.answer_file = osp.join(data_root, answer_file)
        self.max_words, self.vg_answer_weight = max_words, vg_answer_weight
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path=''),
            **kwargs,
        )

    def load_data_list(self) -> list:
        entries = _load_json(self.ann_file)
        if not isinstance(entries, list):
            raise ValueError(
                f'{self.ann_file}: expected a JSON list of questions, got {type(entries).__name__}'
            )
        extra = self._answer_file()
        prefix = self.data_prefix['img_path']
        data_list = []
        for i, entry in enumerate(entries):
            where = f'{self.ann_file}: entry {i}'
            question = _field(entry, 'question', where, str)
            info = dict(
                img_path=osp.join(prefix, _field(entry, 'image', where, str)),
                question=pre_question(question, self.max_words),
                question_id=entry.get('question_id', i),
                dataset=entry.get('dataset', 'vqa'),
            )
            answer = entry.get('answer')
            if answer is None and info['question_id'] in extra:
                answer = extra[info['question_id']]
            if answer is not None:
                answers = _answers(answer, where)
                if info['dataset'] == 'vg':  # official: one answer, weight 0.2
                    _set_answers(info, answers[:1], [self.vg_answer_weight])
                elif info['dataset'] == 'vqa':
                    _set_answers(info, answers)
                else:
                    raise ValueError(
                        f"{where}: 'dataset' must be 'vqa' or 'vg', got {info['dataset']!r}"
                    )
            data_list.append(info)
        return data_list

    def _answer_file(self) -> dict:
        if not self.answer_file:
            return {}
        entries = _load_json(self.answer_file)
        if not isinstance(entries, list):
            raise ValueError(
                f'{self.answer_file}: expected a JSON list of {{"question_id", "answer"}} objects'
            )
        out = {}
        for i, entry in enumerate(entries):
            where = f'{self.answer_file}: entry {i}'
            qid = _field(entry, 'question_id', where, (int, str))
            out[qid] = _answers(_field(entry, 'answer', where, (str, list)), where)
        return out


@DATASETS.register_module()
class VQAOpenEndedDataset(BaseDataset):
    """The VQA API format of VQAv2 and OK-VQA: a question file ``{"questions": [{"image_id",
    "question", "question_id"}]}`` and, for train/val, an annotation file ``{"annotations":
    [{"question_id", "answers": [{"answer"}], "answer_type", ...}]}`` (mmpretrain's
    ``COCOVQA`` reads the same). Images are found by the 12-digit COCO id in their file names
    under ``data_prefix['img_path']``.

    Args:
        question_file: the questions json (e.g. OpenEnded_mscoco_val2014_questions.json).
        ann_file: the annotations json; '' for test questions. Defaults to ''.
        data_root: joined before relative files and ``data_prefix``.
        data_prefix: ``dict(img_path=...)``, the image directory.
        max_words: questions are cut to this many words. Defaults to 50.
        **kwargs: other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(
        self,
        question_file: str,
        ann_file: str = '',
        data_root: str = '',
        data_prefix: Optional[dict] = None,
        max_words: int = 50,
        **kwargs,
    ) -> None:
        self.question_file = question_file
        if data_root and not osp.isabs(question_file):
            self.question_file = osp.join(data_root, question_file)
        self.max_words = max_words
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path=''),
            **kwargs,
        )

    def load_data_list(self) -> list:
        questions = _field(_load_json(self.question_file), 'questions', self.question_file, list)
        anns: dict = {}
        if self.ann_file:
            for i, ann in enumerate(
                _field(_load_json(self.ann_file), 'annotations', self.ann_file, list)
            ):
                anns[_field(ann, 'question_id', f'{self.ann_file}: annotation {i}', int)] = ann
        images = self._image_index()
        data_list = []
        for i, q in enumerate(questions):
            where = f'{self.question_file}: question {i}'
            qid = _field(q, 'question_id', where, int)
            image_id = _field(q, 'image_id', where, int)
            if image_id not in images:
                raise ValueError(
                    f'{where}: no image with id {image_id} under {self.data_prefix["img_path"]}'
                )
            info = dict(
                img_path=images[image_id],
                image_id=image_id,
                question_id=qid,
                question=pre_question(_field(q, 'question', where, str), self.max_words),
            )
            if self.ann_file:
                if qid not in anns:
                    raise ValueError(
                        f'{where}: question_id {qid} has no annotation in {self.ann_file}'
                    )
                ann = anns[qid]
                a_where = f'{self.ann_file}: annotation of question_id {qid}'
                answers = [
                    _field(a, 'answer', a_where, str) for a in _field(ann, 'answers', a_where, list)
                ]
                _set_answers(info, _answers(answers, a_where))
                for key in ('answer_type', 'question_type'):
                    if key in ann:
                        info[key] = ann[key]
            data_list.append(info)
        return data_list

    def _image_index(self) -> dict:
        prefix = self.data_prefix['img_path']
        index = {}
        for name in mmengine.list_dir_or_file(prefix, list_dir=False):
            found = re.findall(r'\d{12}', name)
            if found:
                index[int(found[-1])] = mmengine.join_path(prefix, name)
        return index


@DATASETS.register_module()
class OCRVQADataset(BaseDataset):
    """OCR-VQA (Mishra et al. 2019) in its released dataset.json, as mmpretrain's ``OCRVQA``:
    ``{book_id: {"imageURL", "questions": [...], "answers": [...], "split": 1|2|3}}``, images
    named ``{book_id}{ext of imageURL}``; one answer per question (weight 1).

    Args:
        ann_file: dataset.json.
        split: 'train', 'val' or 'test'.
        data_root: joined before relative ``ann_file`` and ``data_prefix``.
        data_prefix: ``dict(img_path=...)``, the image directory.
        max_words: questions are cut to this many words. Defaults to 50.
        **kwargs: other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    SPLITS = {1: 'train', 2: 'val', 3: 'test'}

    def __init__(
        self,
        ann_file: str,
        split: str,
        data_root: str = '',
        data_prefix: Optional[dict] = None,
        max_words: int = 50,
        **kwargs,
    ) -> None:
        if split not in self.SPLITS.values():
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        self.split, self.max_words = split, max_words
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path=''),
            **kwargs,
        )

    def load_data_list(self) -> list:
        books = _load_json(self.ann_file)
        if not isinstance(books, dict):
            raise ValueError(f'{self.ann_file}: expected a JSON object of books')
        data_list = []
        for key, book in books.items():
            where = f'{self.ann_file}: book {key!r}'
            split = self.SPLITS.get(_field(book, 'split', where, int))
            if split is None:
                raise ValueError(f"{where}: 'split' must be 1, 2 or 3")
            if split != self.split:
                continue
            ext = osp.splitext(_field(book, 'imageURL', where, str))[1]
            if ext not in ('.jpg', '.png'):  # as mmpretrain: the few .gif books are skipped
                continue
            questions = _field(book, 'questions', where, list)
            answers = _field(book, 'answers', where, list)
            if len(questions) != len(answers):
                raise ValueError(f'{where}: {len(questions)} questions but {len(answers)} answers')
            img_path = mmengine.join_path(self.data_prefix['img_path'], key + ext)
            for n, (q, a) in enumerate(zip(questions, answers)):
                if not isinstance(q, str) or not isinstance(a, str):
                    raise ValueError(f'{where}: question/answer {n} is not a pair of str')
                info = dict(
                    img_path=img_path,
                    question=pre_question(q, self.max_words),
                    question_id=f'{key}_{n}',
                    image_id=key,
                )
                data_list.append(_set_answers(info, [a]))
        return data_list
