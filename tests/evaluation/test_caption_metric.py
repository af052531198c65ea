"""COCOCaptionMetric against numbers derived by hand from the metric definitions.

Each JVM start of METEOR costs several seconds (it loads a 60 MB paraphrase table), so the
module starts it once: the metric run through ``ann_file`` (checked against hand-computed
BLEU, ROUGE-L and CIDEr-D and against pycocoevalcap's own ``COCOEvalCap``) uses it, then it is
checked against the METEOR 1.5 formula. The ``gt_caption`` run must hand METEOR exactly the
inputs of the ``ann_file`` run.
"""

import json
import logging
import math
from typing import Optional
from unittest import mock

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmpretrain.structures import DataSample

from blip_plugin.evaluation import (
    COCOCaptionMetric,
    JavaNotFoundError,
    coco_caption_scorer,
    normalize_image_id,
)
from blip_plugin.evaluation import caption as caption_module
from blip_plugin.evaluation.coco_caption_scorer import MeteorProcess
from blip_plugin.registry import METRICS

# Image 3 has references but no prediction: it must not enter the scores (its n-grams would
# change CIDEr's document frequencies and corpus size).
GT = {
    1: ['A dog runs on the grass.', 'a brown dog is running'],
    2: ['A cat sleeps.'],
    3: ['a dog runs on the beach'],
}
PRED = {1: 'A dog runs on green grass.', 2: 'a cat'}
# After the PTB tokenizer (lower case, punctuation dropped):
#   1: hyp "a dog runs on green grass" (6 words)
#      refs "a dog runs on the grass" (6), "a brown dog is running" (5)
#   2: hyp "a cat" (2), ref "a cat sleeps" (3)


def expected_bleu() -> list[float]:
    # Clipped n-gram matches / hypothesis n-grams, summed over the corpus (n = 1..4):
    #   image 1 vs its refs: 1-grams 5/6 (not "green"), 2-grams 3/5 (a dog, dog runs, runs on),
    #     3-grams 2/4 (a dog runs, dog runs on), 4-grams 1/3 (a dog runs on)
    #   image 2: 1-grams 2/2, 2-grams 1/1, 3-grams 0/0, 4-grams 0/0
    correct, guess = [7, 4, 2, 1], [8, 6, 4, 3]
    # 'closest' reference length: image 1 -> 6 (|6-6| = 0), image 2 -> 3; hypotheses 6 + 2.
    brevity = math.exp(1 - 9 / 8)
    # BLEU-n = brevity * (p_1 * ... * p_n) ** (1 / n)
    precisions = [c / g for c, g in zip(correct, guess)]
    return [brevity * math.prod(precisions[:n]) ** (1 / n) for n in range(1, 5)]


def expected_rouge_l() -> float:
    beta2 = 1.2**2

    def f(p: float, r: float) -> float:
        return (1 + beta2) * p * r / (r + beta2 * p)

    # Image 1: LCS with ref 1 = "a dog runs on grass" (5) -> P = R = 5/6; with ref 2 "a dog"
    # (2) -> P = 2/6, R = 2/5. Max P and max R: 5/6, 5/6.
    # Image 2: LCS "a cat" (2) -> P = 2/2, R = 2/3.
    return (f(5 / 6, 5 / 6) + f(1.0, 2 / 3)) / 2


def expected_cider_d() -> float:
    # CIDEr-D (Vedantam et al. 2015, pycocoevalcap cider_scorer.py): per n, the clipped cosine
    # of tf-idf vectors, idf = log(N) - log(max(1, df)) with N = 2 predicted images. "a" is in
    # the references of both images (df = 2) so its weight is 0; every other n-gram has weight
    # log 2, which cancels in the cosine: cos = |shared weighted n-grams| / (|h| |r|) ** 0.5.
    # The Gaussian length penalty uses the number of *bigrams* (pycocoevalcap counts
    # `length` at n-gram index 1), sigma = 6: exp(-delta**2 / 72).
    pen1 = math.exp(-1 / 72)
    # Image 1, weighted unigrams: hyp {dog runs on green grass} (5), ref 1 {dog runs on the
    # grass} (5): 4 shared; ref 2 {brown dog is running} (4): 1 shared, bigrams 5 vs 4.
    sims_ref1 = [4 / 5, 3 / 5, 2 / 4, 1 / 3]  # 2..4-grams as for BLEU, all weighted
    sims_ref2 = [1 / math.sqrt(5 * 4) * pen1, 0.0, 0.0, 0.0]
    image1 = 10 * np.mean(np.add(sims_ref1, sims_ref2)) / 2
    # Image 2: unigrams {cat} vs {cat sleeps}; bigrams {a cat} vs {a cat, cat sleeps};
    # bigram counts 1 vs 2.
    image2 = 10 * np.mean([1 / math.sqrt(2) * pen1, 1 / math.sqrt(2) * pen1, 0, 0])
    return float((image1 + image2) / 2)


def meteor_formula(precision: float, recall: float, chunks: int, matches: float) -> float:
    # METEOR 1.5 (Denkowski & Lavie 2014), English defaults: alpha 0.85, beta 0.2, gamma 0.6.
    fmean = precision * recall / (0.85 * precision + 0.15 * recall)
    return fmean * (1 - 0.6 * (chunks / matches) ** 0.2)


def write_gt(path, gt: dict) -> str:
    images = [{'id': image_id} for image_id in gt]
    anns = [
        {'image_id': image_id, 'caption': cap, 'id': 10 * image_id + k}
        for image_id, caps in gt.items()
        for k, cap in enumerate(caps)
    ]
    path.write_text(json.dumps({'images': images, 'annotations': anns}))
    return str(path)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings_seen():
    logger = MMLogger.get_instance('test_caption_metric', log_level='WARNING')
    handler = ListHandler()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


class MeteorInputs:
    """Stands in for ``MeteorProcess`` in the metric: records what METEOR is asked to score
    and passes it to a shared, already running METEOR (or answers -1 without one)."""

    def __init__(self, meteor: Optional[MeteorProcess]) -> None:
        self.meteor = meteor
        self.calls: list[tuple[list, list]] = []

    def __call__(self) -> 'MeteorInputs':
        return self

    def __enter__(self) -> 'MeteorInputs':
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def compute_score(self, gts: dict, res: dict) -> tuple[float, list[float]]:
        self.calls.append((list(gts.items()), list(res.items())))
        if self.meteor is not None:
            return self.meteor.compute_score(gts, res)
        return -1.0, [-1.0] * len(gts)


@pytest.fixture(scope='module')
def meteor_process():
    """One METEOR JVM for the module: its start (loading the paraphrase table) is the cost."""
    with MeteorProcess() as meteor:
        yield meteor


@pytest.fixture(scope='module')
def ann_file_run(tmp_path_factory, meteor_process) -> dict:
    """One metric run through ann_file, predictions keyed by zero-padded string ids."""
    tmp = tmp_path_factory.mktemp('caption')
    ann_file = write_gt(tmp / 'gt.json', GT)
    output_file = str(tmp / 'out' / 'pred.json')
    metric = METRICS.build(
        dict(type='COCOCaptionMetric', ann_file=ann_file, output_file=output_file)
    )
    logger = MMLogger.get_instance('test_caption_metric_run', log_level='WARNING')
    handler = ListHandler()
    logger.addHandler(handler)
    meteor = MeteorInputs(meteor_process)
    samples = [dict(image_id=f'{i:012d}', pred_caption=cap) for i, cap in PRED.items()]
    with (
        mock.patch.object(caption_module, 'spice_models_available', return_value=False),
        mock.patch.object(caption_module, 'MeteorProcess', meteor),
    ):
        metric.process({}, samples)
        scores = metric.evaluate(size=len(samples))
    logger.removeHandler(handler)
    return dict(
        scores=scores,
        ann_file=ann_file,
        output_file=output_file,
        warnings=handler.messages,
        meteor_calls=meteor.calls,
    )


def test_bleu_by_hand(ann_file_run):
    scores = ann_file_run['scores']
    got = [scores[f'coco-caption/Bleu_{n}'] for n in range(1, 5)]
    assert got == pytest.approx(expected_bleu(), rel=1e-6)
    assert got[0] == pytest.approx(7 / 8 * math.exp(-1 / 8), rel=1e-6)


def test_rouge_l_and_cider_by_hand(ann_file_run):
    scores = ann_file_run['scores']
    assert scores['coco-caption/ROUGE_L'] == pytest.approx(expected_rouge_l(), rel=1e-9)
    assert scores['coco-caption/CIDEr'] == pytest.approx(expected_cider_d(), rel=1e-9)


def test_result_keys_and_spice_skipped_with_one_warning(ann_file_run):
    keys = ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'METEOR', 'ROUGE_L', 'CIDEr']
    assert list(ann_file_run['scores']) == [f'coco-caption/{k}' for k in keys]
    assert all(type(v) is float for v in ann_file_run['scores'].values())
    spice_warnings = [m for m in ann_file_run['warnings'] if 'SPICE' in m]
    assert len(spice_warnings) == 1
    assert 'get_stanford_models' in spice_warnings[0]


def test_equals_cocoevalcap(ann_file_run):
    """pycocoevalcap's own pipeline on the dumped results (its Meteor/Spice stubbed out)."""
    import pycocoevalcap.eval as cocoeval
    from pycocotools.coco import COCO

    with open(ann_file_run['output_file']) as f:
        assert json.load(f) == [{'image_id': i, 'caption': c} for i, c in PRED.items()]

    class Stub:
        def __init__(self, name: str) -> None:
            self.name = name

        def compute_score(self, gts, res):
            return 0.0, [0.0] * len(gts)

        def method(self) -> str:
            return self.name

    coco = COCO(ann_file_run['ann_file'])
    coco_res = coco.loadRes(ann_file_run['output_file'])
    with (
        mock.patch.object(cocoeval, 'Meteor', lambda: Stub('METEOR')),
        mock.patch.object(cocoeval, 'Spice', lambda: Stub('SPICE')),
    ):
        coco_eval = cocoeval.COCOEvalCap(coco, coco_res)
        coco_eval.params['image_id'] = coco_res.getImgIds()
        coco_eval.evaluate()
    for key in ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'ROUGE_L', 'CIDEr']:
        assert ann_file_run['scores'][f'coco-caption/{key}'] == coco_eval.eval[key], key


def test_gt_caption_path_with_padding_duplicates_matches_ann_file(ann_file_run):
    samples = []
    for image_id in [1, 2, 1, 2, 1]:  # a distributed sampler pads with repeated samples
        sample = DataSample()
        sample.set_field(image_id, 'image_id', field_type='metainfo')
        sample.set_field(PRED[image_id], 'pred_caption')
        sample.set_field(GT[image_id] if image_id == 1 else GT[image_id][0], 'gt_caption')
        samples.append(sample)
    metric = COCOCaptionMetric(spice=False)
    metric.process({}, samples[:3])
    metric.process(
        {},
        [
            dict(image_id=s.image_id, pred_caption=s.pred_caption, gt_caption=s.gt_caption)
            for s in samples[3:]
        ],
    )
    # METEOR is the one JVM-costly scorer: here it only records its inputs, which must be
    # exactly those the ann_file run scored (same images, order, tokenized captions).
    meteor = MeteorInputs(None)
    with mock.patch.object(caption_module, 'MeteorProcess', meteor):
        scores = metric.evaluate(size=len(samples))
    assert meteor.calls == ann_file_run['meteor_calls']
    assert len(meteor.calls) == 1 and [k for k, _ in meteor.calls[0][0]] == [1, 2]
    assert scores.pop('coco-caption/METEOR') == -1.0
    expected = dict(ann_file_run['scores'])
    expected.pop('coco-caption/METEOR')
    assert scores == expected


def test_meteor_against_formula_and_cleanup(ann_file_run, meteor_process):
    """Runs after the metric run (it asks for it): the shared process is killed here."""
    meteor = meteor_process
    perfect, _ = meteor.compute_score(
        {1: ['a dog runs on the grass']}, {1: ['a dog runs on the grass']}
    )
    # Exact matches only: P = 2/2, R = 2/3, one chunk of 2 matches.
    partial, _ = meteor.compute_score({1: ['zebra giraffe elephant']}, {1: ['zebra giraffe']})
    # All 3 words match in 2 chunks ("elephant" | "zebra giraffe").
    reordered, _ = meteor.compute_score(
        {1: ['zebra giraffe elephant']}, {1: ['elephant zebra giraffe']}
    )
    # METEOR 1.5 drops the fragmentation penalty for an identical single chunk.
    assert perfect == pytest.approx(1.0, abs=1e-12)
    assert partial == pytest.approx(meteor_formula(1.0, 2 / 3, 1, 2), rel=1e-9)
    assert reordered == pytest.approx(meteor_formula(1.0, 1.0, 2, 3), rel=1e-9)

    # A dead child is an error naming METEOR, not a hang; close() still reaps everything.
    meteor._proc.kill()
    meteor._proc.wait()
    with pytest.raises(RuntimeError, match='METEOR'):
        meteor.compute_score({1: ['a dog']}, {1: ['a dog']})
    meteor.close()
    assert meteor._proc.poll() is not None and meteor._proc.stdout.closed


def test_missing_image_id_is_named(tmp_path):
    metric = COCOCaptionMetric(ann_file=write_gt(tmp_path / 'gt.json', GT), spice=False)
    metric.process(
        {}, [dict(image_id=1, pred_caption='a dog'), dict(image_id=777, pred_caption='a cat')]
    )
    with pytest.raises(ValueError, match=r'\[777\]'):
        metric.compute_metrics(metric.results)


def test_missing_gt_caption_without_ann_file():
    metric = COCOCaptionMetric(spice=False)
    metric.process({}, [dict(image_id=5, pred_caption='a dog')])
    with pytest.raises(ValueError, match='5.*gt_caption'):
        metric.compute_metrics(metric.results)


def test_java_missing_gives_one_clear_error(tmp_path):
    metric = COCOCaptionMetric(ann_file=write_gt(tmp_path / 'gt.json', GT), spice=False)
    metric.process({}, [dict(image_id=1, pred_caption='a dog')])
    with mock.patch.object(coco_caption_scorer.shutil, 'which', return_value=None):
        with pytest.raises(JavaNotFoundError, match='needs Java'):
            metric.compute_metrics(metric.results)


def test_spice_true_without_models_fails_clearly():
    with mock.patch.object(caption_module, 'spice_models_available', return_value=False):
        with pytest.raises(RuntimeError, match='get_stanford_models'):
            COCOCaptionMetric(spice=True)


def test_spice_warning_once_per_metric(warnings_seen):
    metric = COCOCaptionMetric()
    logger = MMLogger.get_current_instance()
    with mock.patch.object(caption_module, 'spice_models_available', return_value=False):
        assert [metric._use_spice(logger) for _ in range(3)] == [False, False, False]
    assert len([m for m in warnings_seen if 'SPICE skipped' in m]) == 1


def test_format_only_writes_official_result_format(tmp_path):
    out = tmp_path / 'res.json'
    metric = COCOCaptionMetric(output_file=str(out), format_only=True)
    metric.process(
        {},
        [
            dict(image_id='000000000042', pred_caption='a dog'),
            dict(image_id=7, pred_caption='a cat'),
            dict(image_id=42, pred_caption='a dog again'),
        ],
    )
    assert metric.compute_metrics(metric.results) == {}
    assert json.loads(out.read_text()) == [
        {'image_id': 42, 'caption': 'a dog'},
        {'image_id': 7, 'caption': 'a cat'},
    ]


@pytest.mark.parametrize(
    'raw, expected',
    [('000000391895', 391895), (np.int64(7), 7), ('coco_val_1', 'coco_val_1'), (3, 3)],
)
def test_normalize_image_id(raw, expected):
    got = normalize_image_id(raw)
    assert got == expected and type(got) is type(expected)
