"""VisDial v1.0 in the official json format (visualdialog.org/data).

``visdial_1.0_{split}.json``: ``{"version", "split", "data": {"questions": [str], "answers":
[str], "dialogs": [{"image_id", "caption", "dialog": [{"question": int, "answer": int,
"answer_options": [100 int], "gt_index": int}]}]}}``; question / answer / options are indices
into the two string lists. The test split gives earlier rounds without options and its last
round without an answer. Dense annotations (val): ``[{"image_id", "round_id" (1-based),
"gt_relevance": [100 floats]}]`` (the train sample file names the list ``relevance``).

Images are found by id: every file under ``image_dirs`` whose name ends in a number
(``COCO_train2014_000000000009.jpg``, ``VisualDialog_val2018_000000000001.jpg``) is that
image's.
"""

import json
import os
import os.path as osp
import re
from typing import Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.fileio import get_local_path

from ..registry import DATASETS

__all__ = ['VisDialDataset', 'load_visdial', 'index_images']

_IMAGE_ID = re.compile(r'(\d+)\.(jpg|jpeg|png)$', re.IGNORECASE)


def index_images(dirs: Sequence[str]) -> dict:
    """{image id: path} of every image file directly under ``dirs`` whose name ends in its id."""
    index = {}
    for d in dirs:
        if not osp.isdir(d):
            raise FileNotFoundError(f'VisDial image folder {d!r} does not exist')
        for name in sorted(os.listdir(d)):
            m = _IMAGE_ID.search(name)
            if m:
                index.setdefault(int(m.group(1)), osp.join(d, name))
    return index


def load_visdial(ann_file: str) -> list:
    """The dialogs of an official VisDial json with their strings resolved: per dialog
    ``image_id``, ``caption`` and ``rounds`` of ``question`` (str), ``answer`` (str or None),
    ``answer_options`` (list of str, empty where not given) and ``gt_index`` (int or -1)."""
    with get_local_path(ann_file) as local, open(local, encoding='utf-8') as f:
        content = json.load(f)
    data = content.get('data') if isinstance(content, dict) else None
    if not isinstance(data, dict) or not {'questions', 'answers', 'dialogs'} <= set(data):
        raise ValueError(
            f'{ann_file}: not a VisDial json (need data.questions, data.answers, data.dialogs)'
        )
    questions, answers = data['questions'], data['answers']
    dialogs = []
    for i, d in enumerate(data['dialogs']):
        where = f'{ann_file} dialog {i}'
        if 'image_id' not in d or not isinstance(d.get('dialog'), list):
            raise ValueError(f"{where}: needs 'image_id' and a 'dialog' list")
        rounds = []
        for r, rd in enumerate(d['dialog']):
            try:
                options = [answers[o] for o in rd.get('answer_options', [])]
                rounds.append(
                    dict(
                        question=questions[rd['question']],
                        answer=answers[rd['answer']] if 'answer' in rd else None,
                        answer_options=options,
                        gt_index=int(rd.get('gt_index', -1)),
                    )
                )
            except (KeyError, IndexError, TypeError) as e:
                raise ValueError(f'{where} round {r + 1}: bad question/answer index ({e!r})') from e
        dialogs.append(
            dict(image_id=int(d['image_id']), caption=d.get('caption', ''), rounds=rounds)
        )
    return dialogs


def _load_dense(path: str) -> dict:
    with get_local_path(path) as local, open(local, encoding='utf-8') as f:
        entries = json.load(f)
    dense = {}
    for e in entries:
        rel = e.get('gt_relevance', e.get('relevance'))
        dense[int(e['image_id'])] = (int(e['round_id']) - 1, [float(x) for x in rel])
    return dense


@DATASETS.register_module()
class VisDialDataset(BaseDataset):
    """VisDial v1.0 dialogs.

    With ``per_round`` (training) a sample is one round that has a true answer among its
    candidates: ``caption``, ``history`` (the earlier rounds as [question, answer]),
    ``question``, ``answer_options`` (list of str) and ``gt_index``. Otherwise (evaluation)
    a sample is one dialog: ``caption`` and ``dialog``, its rounds as dicts of ``question``,
    ``answer`` (None where unknown) and ``answer_options`` (empty where not to be ranked);
    ``gt_index`` and, with dense annotations, ``dense_round`` and ``gt_relevance`` refer to
    the rounds to be ranked, in order (see :class:`VisDialMetric`).

    Args:
        ann_file: ``visdial_1.0_{train,val,test}.json``.
        data_root: joined with ``ann_file``, ``dense_ann_file`` and ``image_dirs``.
            Defaults to ''.
        image_dirs: folders holding the images, found by the id ending their file names.
            Defaults to ('',).
        dense_ann_file: dense relevance annotations, or None. Defaults to None.
        per_round: one sample per round (training) instead of per dialog. Defaults to False.
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        image_dirs: Sequence[str] = ('',),
        dense_ann_file: Optional[str] = None,
        per_round: bool = False,
        **kwargs,
    ) -> None:
        self.image_dirs = [osp.join(data_root, d) for d in image_dirs]
        self.dense_ann_file = osp.join(data_root, dense_ann_file) if dense_ann_file else None
        self.per_round = per_round
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    def get_data_info(self, idx: int) -> dict:
        # candidates are stored as indices into ``self.answer_strings`` (100 strings per round
        # would make the serialised list of VisDial's 1.2M train rounds gigabytes)
        info = super().get_data_info(idx)
        rounds = [info] if self.per_round else info['dialog']
        for rd in rounds:
            rd['answer_options'] = [self.answer_strings[i] for i in rd['answer_options']]
        return info

    def _compact(self, options: list) -> np.ndarray:
        index = self._answer_index
        for a in options:
            if a not in index:
                index[a] = len(self.answer_strings)
                self.answer_strings.append(a)
        return np.array([index[a] for a in options], dtype=np.int32)

    def load_data_list(self) -> list:
        dialogs = load_visdial(self.ann_file)
        self.answer_strings: list = []
        self._answer_index: dict = {}
        images = index_images(self.image_dirs)
        dense = _load_dense(self.dense_ann_file) if self.dense_ann_file else {}
        data_list = []
        for d in dialogs:
            path = images.get(d['image_id'])
            if path is None:
                raise FileNotFoundError(
                    f'{self.ann_file}: no image file for image_id {d["image_id"]} under '
                    f'{self.image_dirs} (file names must end in the id)'
                )
            base = dict(img_path=path, image_id=d['image_id'], caption=d['caption'])
            rounds = d['rounds']
            if self.per_round:
                for r, rd in enumerate(rounds):
                    if rd['gt_index'] < 0 or not rd['answer_options']:
                        continue
                    history = [[p['question'], p['answer'] or ''] for p in rounds[:r]]
                    data_list.append(
                        dict(
                            base,
                            history=history,
                            question=rd['question'],
                            answer_options=self._compact(rd['answer_options']),
                            gt_index=rd['gt_index'],
                            round_id=r + 1,
                        )
                    )
                continue
            ranked = [r for r, rd in enumerate(rounds) if rd['answer_options']]
            sample = dict(
                base,
                dialog=[
                    dict(
                        question=rd['question'],
                        answer=rd['answer'],
                        answer_options=self._compact(rd['answer_options']),
                    )
                    for rd in rounds
                ],
                gt_index=[rounds[r]['gt_index'] for r in ranked],
                dense_round=-1,
            )
            if d['image_id'] in dense:
                r, rel = dense[d['image_id']]
                if r not in ranked:
                    raise ValueError(
                        f'{self.dense_ann_file}: image {d["image_id"]} round {r + 1} has '
                        'dense relevance but no answer options'
                    )
                sample.update(dense_round=ranked.index(r), gt_relevance=rel)
            data_list.append(sample)
        return data_list
