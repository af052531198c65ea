"""Video-language datasets for zero-shot evaluation: MSR-VTT text-video retrieval (the
official BLIP ``msrvtt_test.jsonl``, 1k-A test split) and video QA (MSRVTT-QA / MSVD-QA as
released, or LAVIS's layout).

Samples carry ``video_path``, read by ``BlipLoadVideo``. Retrieval samples use the names of
image retrieval (``image_idx`` is the video's index, ``text_idx`` its texts'), so
``BlipVideoRetrieval`` and ``BlipRetrievalTestLoop`` work on them unchanged.
"""

import os.path as osp
from typing import Any, Optional

from mmengine.dataset import BaseDataset
from mmengine.fileio import get_local_path

from ..registry import DATASETS
from .transforms.clean_caption import pre_caption
from .vqa import _answers, _field, _load_json, _set_answers, pre_question
from .web_pairs import numbered_annotations

__all__ = ['MSRVTTRetrieval', 'VideoQA', 'QUESTION_TYPES', 'read_video_mapping']

# MSRVTT-QA / MSVD-QA report accuracy per question word (Xu et al., ACM MM 2017)
QUESTION_TYPES = ('what', 'who', 'how', 'when', 'where')


@DATASETS.register_module()
class MSRVTTRetrieval(BaseDataset):
    """Text-video retrieval in the official BLIP format: JSON lines (or a JSON list) of
    ``{"clip_name": "video7020", "caption": str}`` (``msrvtt_test.jsonl``: the 1k-A test
    split, 1,000 clips with one caption each). Lines naming the same clip add captions to it.

    One sample per video: ``video_path`` (``data_prefix['video_path']`` / clip_name +
    ``video_ext``), ``gt_caption`` (its cleaned captions), ``image_idx`` (the video's index)
    and ``text_idx`` (its captions' split-wide indices). The dataset also exposes ``texts``,
    ``txt2img`` and ``img2txt``.

    Args:
        ann_file: the annotation file (``.jsonl`` or ``.json``).
        data_root: joined before ``ann_file`` and ``data_prefix``.
        data_prefix: ``dict(video_path=...)``, the video folder.
        video_ext: appended to ``clip_name``. Defaults to '.mp4'.
        max_words: captions are cut to this many words. Defaults to 40 (official video).
        **kwargs: other :class:`mmengine.dataset.BaseDataset` arguments (``pipeline``...).
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix: Optional[dict] = None,
        video_ext: str = '.mp4',
        max_words: int = 40,
        **kwargs,
    ) -> None:
        self.video_ext, self.max_words = video_ext, max_words
        self.texts: list = []
        self.txt2img: list = []
        self.img2txt: list = []
        kwargs.setdefault('test_mode', True)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(video_path=''),
            **kwargs,
        )

    def load_data_list(self) -> list:
        prefix = self.data_prefix.get('video_path', '')
        videos: dict = {}  # clip_name -> sample, in order of first appearance
        self.texts, self.txt2img = [], []
        for where, ann in numbered_annotations(self.ann_file):
            where = f'{self.ann_file}: {where}'
            clip = _field(ann, 'clip_name', where, str)
            caption = _field(ann, 'caption', where, str)
            cleaned = pre_caption(caption, self.max_words)
            if not cleaned:
                raise ValueError(f'{where}: caption {caption!r} is empty after cleaning')
            sample = videos.setdefault(
                clip,
                dict(
                    video_path=osp.join(prefix, clip + self.video_ext),
                    video_id=clip,
                    gt_caption=[],
                    image_idx=len(videos),
                    text_idx=[],
                ),
            )
            sample['gt_caption'].append(cleaned)
            sample['text_idx'].append(len(self.texts))
            self.texts.append(cleaned)
            self.txt2img.append(sample['image_idx'])
        if not videos:
            raise ValueError(f'{self.ann_file}: no annotation')
        self.img2txt = [s['text_idx'] for s in videos.values()]
        return list(videos.values())

    @property
    def num_videos(self) -> int:
        return len(self.img2txt)


def read_video_mapping(path: str) -> dict:
    """MSVD's ``youtube_mapping.txt``: lines ``<youtube clip name> vid<N>`` -> {N: name}."""
    out = {}
    with get_local_path(path) as local, open(local, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].startswith('vid') or not parts[1][3:].isdigit():
                raise ValueError(f'{path}: line {n} is not "<clip name> vid<N>": {line!r}')
            out[int(parts[1][3:])] = parts[0]
    return out


@DATASETS.register_module()
class VideoQA(BaseDataset):
    """Open-ended video QA: MSRVTT-QA and MSVD-QA (Xu et al., 2017) as released, or LAVIS's
    annotation layout.

    Entries of the JSON list are either ``{"question", "answer", "video_id": int, "id"}``
    (the release: the video file is ``video_name.format(video_id)``, or for MSVD-QA
    ``video_name.format(name)`` with ``name`` from ``youtube_mapping.txt``) or ``{"question",
    "answer", "video": file, "question_id"}`` (LAVIS). Samples carry ``video_path``,
    ``question`` (cleaned as :func:`pre_question`), ``question_id``, ``gt_answer`` (one
    answer: accuracy is exact match after the VQA normalisation), ``gt_answer_weight``,
    ``gt_answer_count`` and ``answer_type`` (the question word: what, who, how, when, where,
    else other), so ``VQAAccuracy`` scores them overall and per question type.

    Args:
        ann_file: the annotation JSON (e.g. ``test_qa.json``).
        data_root: joined before relative files and ``data_prefix``.
        data_prefix: ``dict(video_path=...)``, the video folder.
        video_name: file name of a ``video_id``. Defaults to 'video{}.mp4' (MSR-VTT).
        video_mapping: MSVD's ``youtube_mapping.txt``, mapping ``video_id`` to a clip name
            (then e.g. ``video_name='{}.avi'``). Defaults to None.
        max_words: questions are cut to this many words. Defaults to 50.
        **kwargs: other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix: Optional[dict] = None,
        video_name: str = 'video{}.mp4',
        video_mapping: Optional[str] = None,
        max_words: int = 50,
        **kwargs,
    ) -> None:
        if video_mapping and data_root and not osp.isabs(video_mapping):
            video_mapping = osp.join(data_root, video_mapping)
        self.video_name, self.video_mapping, self.max_words = video_name, video_mapping, max_words
        kwargs.setdefault('test_mode', True)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(video_path=''),
            **kwargs,
        )

    def load_data_list(self) -> list:
        entries = _load_json(self.ann_file)
        if not isinstance(entries, list):
            raise ValueError(
                f'{self.ann_file}: expected a JSON list of questions, got {type(entries).__name__}'
            )
        mapping = read_video_mapping(self.video_mapping) if self.video_mapping else None
        prefix = self.data_prefix.get('video_path', '')
        data_list = []
        for i, entry in enumerate(entries):
            where = f'{self.ann_file}: entry {i}'
            question = _field(entry, 'question', where, str)
            info = dict(
                video_path=osp.join(prefix, self._video_file(entry, where, mapping)),
                question=pre_question(question, self.max_words),
                question_id=entry.get('question_id', entry.get('id', i)),
                answer_type=_question_type(question),
            )
            if entry.get('answer') is not None:
                _set_answers(info, _answers(entry['answer'], where))
            data_list.append(info)
        return data_list

    def _video_file(self, entry: Any, where: str, mapping: Optional[dict]) -> str:
        if isinstance(entry, dict) and 'video' in entry:
            return _field(entry, 'video', where, str)
        video_id = _field(entry, 'video_id', where, (int, str))
        if mapping is not None:
            key = int(video_id) if str(video_id).isdigit() else video_id
            if key not in mapping:
                raise ValueError(f'{where}: video_id {video_id!r} is not in {self.video_mapping}')
            video_id = mapping[key]
        return self.video_name.format(video_id)


def _question_type(question: str) -> str:
    words = question.lower().split()
    return words[0] if words and words[0] in QUESTION_TYPES else 'other'
