"""VQA accuracy: hand-computed leave-one-out cases, the official normalisation (checked against
mmpretrain's copy of vqaEval.py's tables), per-type scores and the test-dev result file."""

import json

import pytest
from mmpretrain.evaluation.metrics.vqa import _process_digit_article, _process_punctuation
from mmpretrain.structures import DataSample

from blip_plugin.evaluation.vqa import VQAAccuracy, normalize_answer, vqa_accuracy


@pytest.mark.parametrize(
    'matches, expected',
    [
        (0, 0.0),
        (1, 0.3),  # 9 subsets hold the match: 9 * (1/3) / 10
        (2, 0.6),  # 2 subsets hold 1 match, 8 hold 2: (2/3 + 16/3) / 10
        (3, 0.9),  # 3 subsets hold 2, 7 hold 3: (3 * 2/3 + 7) / 10
        (4, 1.0),  # every subset holds >= 3
        (10, 1.0),
    ],
)
def test_leave_one_out_by_hand(matches, expected):
    gts = ['cat'] * matches + [
        'dog',
        'bird',
        'fish',
        'cow',
        'pig',
        'hen',
        'ant',
        'bee',
        'fox',
        'owl',
    ][: 10 - matches]
    assert vqa_accuracy('cat', gts) == pytest.approx(expected)


def test_normalisation_cases():
    gts = ['two', '2', 'Two', 'two dogs', '2', 'three', 'two', 'II', '2.', 'a two']
    # "two", "2", "Two", "2." and "a two" normalise to '2': 7 matches
    assert vqa_accuracy('two', gts) == 1.0
    assert normalize_answer("  the Dog's   bone!\n") == "dog's bone"
    assert normalize_answer('dont know') == "don't know"
    assert normalize_answer('1,000') == '1000'  # a digit comma: punctuation is deleted
    assert normalize_answer('red, white') == 'red white'
    assert normalize_answer('3.5') == '3.5' and normalize_answer('end.') == 'end'
    assert normalize_answer('an apple') == 'apple'
    # official quirk: when all annotators agree, nothing is normalised
    assert vqa_accuracy('Yes', ['yes'] * 10) == 0.0
    assert vqa_accuracy(' yes\n', ['yes'] * 10) == 1.0
    assert vqa_accuracy('Yes', ['yes'] * 9 + ['no']) == 1.0
    # one reference answer (OCR-VQA): exact match after normalisation
    assert vqa_accuracy('The Hobbit', ['the hobbit!']) == 1.0
    assert vqa_accuracy('hobbits', ['hobbit']) == 0.0


@pytest.mark.parametrize(
    'text',
    [
        'yes',
        'No.',
        'two dogs',
        'isnt it',
        'a man, riding',
        'hello-world',
        '(left)',
        '10:30',
        'x/y',
        'its 1,000',
        'the end.',
        'Im here',
        'one, two',
        "wouldnt've",
        'A B',
    ],
)
def test_normalisation_equals_official_tables(text):
    assert normalize_answer(text) == _process_digit_article(_process_punctuation(text.strip()))


def samples(rows: list) -> list:
    out = []
    for qid, pred, answers, counts, kind in rows:
        s = DataSample()
        s.set_field(pred, 'pred_answer')
        s.set_field(qid, 'question_id', field_type='metainfo')
        if answers is not None:
            s.set_field(answers, 'gt_answer')
        if counts is not None:
            s.set_field(counts, 'gt_answer_count')
        if kind is not None:
            s.set_field(kind, 'answer_type')
        out.append(s)
    return out


def test_metric_counts_types_and_result_file(tmp_path):
    result_file = tmp_path / 'out' / 'vqa_val_result.json'
    metric = VQAAccuracy(result_file=str(result_file))
    metric.process(
        {},
        samples(
            [
                (1, 'yes', ['yes', 'no'], [9, 1], 'yes/no'),  # 1.0
                (2, '2', ['2', '3'], [2, 8], 'number'),  # 0.6
                (3, 'cat', ['dog'] * 10, None, 'other'),  # raw list: 0.0
                (4, 'blue', 'blue', None, 'other'),  # single answer: 1.0
            ]
        ),
    )
    res = metric.compute_metrics(metric.results)
    assert res['acc'] == pytest.approx(100 * (1 + 0.6 + 0 + 1) / 4)
    assert res['acc_yes_no'] == pytest.approx(100.0)
    assert res['acc_number'] == pytest.approx(60.0)
    assert res['acc_other'] == pytest.approx(50.0)
    assert json.loads(result_file.read_text()) == [
        dict(question_id=1, answer='yes'),
        dict(question_id=2, answer='2'),
        dict(question_id=3, answer='cat'),
        dict(question_id=4, answer='blue'),
    ]


def test_test_dev_split_only_writes_results(tmp_path):
    metric = VQAAccuracy(result_file=str(tmp_path / 'test_dev.json'))
    metric.process({}, samples([(262144000, 'yes', None, None, None)]))
    assert metric.compute_metrics(metric.results) == {}
    assert json.loads((tmp_path / 'test_dev.json').read_text()) == [
        dict(question_id=262144000, answer='yes')
    ]
    with pytest.raises(ValueError, match='.json'):
        VQAAccuracy(result_file='out.txt')
    with pytest.raises(ValueError, match='pred_answer'):
        VQAAccuracy().process({}, [DataSample()])


def test_tables_equal_mmpretrains_copy_of_the_official_ones():
    import ast
    import inspect

    from blip_plugin.evaluation.vqa import _CONTRACTIONS, _NUMBERS

    tree = ast.parse(inspect.getsource(_process_digit_article))
    tables = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
    }
    assert tables == {'manualMap': _NUMBERS, 'contractions': _CONTRACTIONS}
