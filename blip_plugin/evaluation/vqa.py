"""VQA accuracy as the official evaluation (GT-Vision-Lab/VQA ``vqaEval.py``), and the
test-dev result file of the evaluation server.

Per question: ``acc = mean over the 10 leave-one-out subsets of the human answers of
min(#answers in the subset equal to the prediction / 3, 1)``. Answers are normalised
(punctuation, number words, articles, contractions) only when the humans disagree, exactly as
the official script does (when all ten agree the prediction must match them verbatim after
whitespace trimming). A question with a single reference answer (OCR-VQA) scores exact
match after normalisation, since leave-one-out would leave nothing.
"""

import json
import os
import re
from collections.abc import Sequence
from typing import Any, Optional

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from blip_plugin.registry import METRICS

__all__ = ['VQAAccuracy', 'normalize_answer', 'vqa_accuracy']

# -- the official normalisation tables (vqaEval.py) --------------------------------------------
# fmt: off
_CONTRACTIONS = {
    'aint': "ain't", 'arent': "aren't", 'cant': "can't", 'couldve': "could've",
    'couldnt': "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    'didnt': "didn't", 'doesnt': "doesn't", 'dont': "don't", 'hadnt': "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", 'hasnt': "hasn't", 'havent': "haven't",
    'hed': "he'd", "hed've": "he'd've", "he'dve": "he'd've", 'hes': "he's", 'howd': "how'd",
    'howll': "how'll", 'hows': "how's", "Id've": "I'd've", "I'dve": "I'd've", 'Im': "I'm",
    'Ive': "I've", 'isnt': "isn't", 'itd': "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    'itll': "it'll", "let's": "let's", 'maam': "ma'am", 'mightnt': "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", 'mightve': "might've",
    'mustnt': "mustn't", 'mustve': "must've", 'neednt': "needn't", 'notve': "not've",
    'oclock': "o'clock", 'oughtnt': "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", 'shant': "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", 'shouldve': "should've", 'shouldnt': "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": 'somebodyd',
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    'somebodyll': "somebody'll", 'somebodys': "somebody's", 'someoned': "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", 'someonell': "someone'll",
    'someones': "someone's", 'somethingd': "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", 'somethingll': "something'll", 'thats': "that's",
    'thered': "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    'therere': "there're", 'theres': "there's", 'theyd': "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", 'theyll': "they'll", 'theyre': "they're", 'theyve': "they've",
    'twas': "'twas", 'wasnt': "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    'weve': "we've", 'werent': "weren't", 'whatll': "what'll", 'whatre': "what're",
    'whats': "what's", 'whatve': "what've", 'whens': "when's", 'whered': "where'd",
    'wheres': "where's", 'whereve': "where've", 'whod': "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", 'wholl': "who'll", 'whos': "who's", 'whove': "who've",
    'whyll': "why'll", 'whyre': "why're", 'whys': "why's", 'wont': "won't",
    'wouldve': "would've", 'wouldnt': "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", 'yall': "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    'youd': "you'd", "youd've": "you'd've", "you'dve": "you'd've", 'youll': "you'll",
    'youre': "you're", 'youve': "you've",
}
_NUMBERS = {
    'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3', 'four': '4', 'five': '5',
    'six': '6', 'seven': '7', 'eight': '8', 'nine': '9', 'ten': '10',
}
_ARTICLES = ('a', 'an', 'the')
_PUNCT = [
    ';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`',
    ',', '?', '!',
]
# fmt: on
_COMMA_STRIP = re.compile(r'(\d)(,)(\d)')
_PERIOD_STRIP = re.compile(r'(?!<=\d)(\.)(?!\d)')  # the official pattern, typo included


def _punctuation(text: str) -> str:
    out = text
    for p in _PUNCT:
        if (p + ' ' in text or ' ' + p in text) or _COMMA_STRIP.search(text) is not None:
            out = out.replace(p, '')
        else:
            out = out.replace(p, ' ')
    return _PERIOD_STRIP.sub('', out, re.UNICODE)  # official passes re.UNICODE as the count


def _digit_article(text: str) -> str:
    words = [_NUMBERS.get(w, w) for w in text.lower().split()]
    words = [_CONTRACTIONS.get(w, w) for w in words if w not in _ARTICLES]
    return ' '.join(words)


def _clean(text: str) -> str:
    return text.replace('\n', ' ').replace('\t', ' ').strip()


def normalize_answer(answer: str) -> str:
    """The official answer normalisation: whitespace, punctuation, then number words to
    digits, articles dropped and contractions restored."""
    return _digit_article(_punctuation(_clean(answer)))


def vqa_accuracy(pred: str, gt_answers: Sequence[str]) -> float:
    """Accuracy in [0, 1] of one prediction against the human answers (official rules)."""
    gts = [_clean(a) for a in gt_answers]
    pred = _clean(pred)
    if not gts:
        raise ValueError('a question needs at least one reference answer')
    if len(gts) == 1:
        return float(normalize_answer(pred) == normalize_answer(gts[0]))
    if len(set(gts)) > 1:  # official: normalise only when the annotators disagree
        gts = [_digit_article(_punctuation(a)) for a in gts]
        pred = _digit_article(_punctuation(pred))
    matches = [a == pred for a in gts]
    total = sum(matches)
    # leave annotator i out: min(#other matches / 3, 1), averaged over i
    return sum(min(1.0, (total - m) / 3) for m in matches) / len(gts)


def _reference_answers(sample: Any) -> Optional[list]:
    """The multiset of human answers: ``gt_answer`` expanded by ``gt_answer_count`` (our
    datasets), or ``gt_answer`` as a raw list / a single str."""
    answers = sample.get('gt_answer')
    if answers is None:
        return None
    if isinstance(answers, str):
        return [answers]
    counts = sample.get('gt_answer_count')
    if counts is None:
        return list(answers)
    if len(counts) != len(answers):
        raise ValueError(f'{len(answers)} gt_answer but {len(counts)} gt_answer_count')
    return [a for a, c in zip(answers, counts) for _ in range(int(c))]


@METRICS.register_module()
class VQAAccuracy(BaseMetric):
    """Official VQA accuracy of ``pred_answer`` against the human answers, overall and per
    ``answer_type`` when the samples carry it; optionally writes the evaluation server's
    result file ``[{"question_id", "answer"}]`` (VQAv2 test-dev / test-std).

    Samples without reference answers (test splits) are only written to ``result_file``.

    Args:
        result_file: path of the result json to write; None writes nothing. Defaults to None.
        collect_device: 'cpu' or 'gpu', for gathering results across ranks. Defaults to 'cpu'.
        prefix: metric name prefix. Defaults to 'vqa'.
    """

    default_prefix = 'vqa'

    def __init__(
        self,
        result_file: Optional[str] = None,
        collect_device: str = 'cpu',
        prefix: Optional[str] = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if result_file is not None and not result_file.endswith('.json'):
            raise ValueError(f'result_file must be a .json file, got {result_file!r}')
        self.result_file = result_file

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            pred = sample.get('pred_answer')
            if not isinstance(pred, str):
                raise ValueError(
                    f'VQAAccuracy needs pred_answer (str) in every sample, got {pred!r}'
                )
            qid = sample.get('question_id')
            if hasattr(qid, 'item'):
                qid = qid.item()
            self.results.append(
                dict(
                    question_id=qid,
                    pred=pred,
                    gts=_reference_answers(sample),
                    answer_type=sample.get('answer_type'),
                )
            )

    def compute_metrics(self, results: list) -> dict:
        logger = MMLogger.get_current_instance()
        if self.result_file:
            self._dump(results, logger)
        scored = [r for r in results if r['gts']]
        if not scored:
            logger.info('VQAAccuracy: no reference answers (a test split); nothing scored')
            return {}
        accs = [vqa_accuracy(r['pred'], r['gts']) for r in scored]
        metrics = {'acc': 100.0 * sum(accs) / len(accs)}
        by_type: dict = {}
        for r, a in zip(scored, accs):
            if r['answer_type'] is not None:
                by_type.setdefault(r['answer_type'], []).append(a)
        for kind, values in sorted(by_type.items()):
            metrics[f'acc_{kind.replace("/", "_").replace(" ", "_")}'] = (
                100.0 * sum(values) / len(values)
            )
        return metrics

    def _dump(self, results: list, logger: MMLogger) -> None:
        rows = []
        for r in results:
            qid = r['question_id']
            if qid is None:
                raise ValueError(
                    'result_file needs question_id in every sample (add it to '
                    "PackInputs' meta_keys)"
                )
            rows.append(dict(question_id=int(qid) if str(qid).isdigit() else qid, answer=r['pred']))
        folder = os.path.dirname(self.result_file)
        if folder:
            os.makedirs(folder, exist_ok=True)
        tmp = self.result_file + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(rows, f)
        os.replace(tmp, self.result_file)
        logger.info(f'VQA results of {len(rows)} questions written to {self.result_file}')
