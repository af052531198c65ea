"""VisDial v1.0: the official json reader, the dataset's samples and the shapes-world dialogs
(format, dense relevance, and that the text alone does not tell the answer)."""

import collections
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from blip_plugin.datasets import VisDialDataset
from blip_plugin.datasets.shapes_world_dialog import (
    ANSWERS,
    NUM_OPTIONS,
    dialog_for,
    relevance,
)
from blip_plugin.datasets.shapes_world_scene import sample_scene
from blip_plugin.datasets.visdial import load_visdial


def load(root: str, name: str) -> object:
    with open(osp.join(root, 'visdial', name), encoding='utf-8') as f:
        return json.load(f)


def test_shapes_world_dialogs_in_the_official_format(shapes_world_root: str) -> None:
    for split, n_images in (('train', 64), ('val', 16)):
        content = load(shapes_world_root, f'visdial_1.0_{split}.json')
        assert content['version'] == '1.0' and content['split'] == split
        data = content['data']
        assert len(data['answers']) == NUM_OPTIONS and len(data['dialogs']) == n_images
        for d in data['dialogs']:
            assert isinstance(d['image_id'], int) and d['caption'].startswith('an image with')
            assert 1 <= len(d['dialog']) <= 10
            questions = [data['questions'][r['question']] for r in d['dialog']]
            assert len(set(questions)) == len(questions)  # nothing asked twice
            for r in d['dialog']:
                assert sorted(r['answer_options']) == list(range(NUM_OPTIONS))
                assert r['answer_options'][r['gt_index']] == r['answer']
    dense = load(shapes_world_root, 'visdial_1.0_val_dense_annotations.json')
    dialogs = {
        d['image_id']: d for d in load(shapes_world_root, 'visdial_1.0_val.json')['data']['dialogs']
    }
    assert len(dense) == 16
    for e in dense:
        rd = dialogs[e['image_id']]['dialog'][e['round_id'] - 1]
        rel = e['gt_relevance']
        assert len(rel) == NUM_OPTIONS and set(rel) <= {0.0, 0.5, 1.0}
        assert rel[rd['gt_index']] == 1.0
        assert 2 <= sum(r > 0 for r in rel) < 40  # near-duplicates beside the true answer


def test_relevance_of_paraphrases() -> None:
    from blip_plugin.datasets.shapes_world_dialog import Question
    from blip_plugin.datasets.shapes_world_scene import Shape

    shape = Shape('circle', 'red', 'large', 'left', (0, 0, 1, 1))
    by_text = {a.text: a for a in ANSWERS}
    colour = Question('what color is the shape on the left?', shape, 'colour')
    size = Question('is the shape on the left small?', shape, 'size', 'small')
    expected = {
        (colour, 'red'): 1.0,
        (colour, 'the shape is red'): 1.0,
        (colour, 'a large red circle'): 1.0,
        (colour, 'a red square'): 0.5,  # right colour, wrong kind
        (colour, 'blue'): 0.0,
        (colour, 'a circle'): 0.0,  # does not say the colour
        (colour, 'yes'): 0.0,
        (size, 'no'): 1.0,
        (size, 'no the shape is large'): 1.0,
        (size, 'no the shape is small'): 0.5,
        (size, 'yes'): 0.0,
        (size, 'a large shape'): 0.5,
        (size, 'a small shape'): 0.0,
    }
    for (q, text), rel in expected.items():
        assert relevance(by_text[text], q) == rel, (q.text, text)


def test_text_alone_does_not_tell_the_answer() -> None:
    """Per question, the true answers are spread over the values of what is asked; and given
    also the caption and every earlier answer of the dialog, the most frequent answer is no
    more often right than that (a text-only model stays near the question's prior)."""
    rng = np.random.default_rng(0)
    by_question = collections.defaultdict(collections.Counter)
    by_context = collections.defaultdict(collections.Counter)
    for _ in range(4000):
        caption, qs = dialog_for(sample_scene(rng, 64)[0], rng)
        history = []
        for q in qs:
            truth = {'colour': q.shape.colour, 'kind': q.shape.kind, 'size': q.shape.size == q.size}
            by_question[q.text][truth[q.attribute]] += 1
            by_context[(caption, q.text, tuple(sorted(history)))][truth[q.attribute]] += 1
            history.append(str(truth[q.attribute]))
    bound = {'what color': 1 / 6, 'what shape': 1 / 3, 'is the': 1 / 2}

    def majority_accuracy(table: dict, prefix: str) -> float:
        rows = [
            c for k, c in table.items() if (k if isinstance(k, str) else k[1]).startswith(prefix)
        ]
        return sum(max(c.values()) for c in rows) / sum(sum(c.values()) for c in rows)

    for prefix, chance in bound.items():
        assert majority_accuracy(by_question, prefix) < chance + 0.06, prefix
        # contexts seen often enough to estimate: no better than the question alone
        common = {k: c for k, c in by_context.items() if sum(c.values()) >= 30}
        assert majority_accuracy(common, prefix) < chance + 0.1, prefix


def test_dataset_samples(shapes_world_root: str) -> None:
    train = VisDialDataset(
        'visdial/visdial_1.0_train.json',
        data_root=shapes_world_root,
        image_dirs=['images/train'],
        per_round=True,
        lazy_init=False,
    )
    content = load(shapes_world_root, 'visdial_1.0_train.json')['data']
    assert len(train) == sum(len(d['dialog']) for d in content['dialogs'])
    s = train[1] if train[1]['round_id'] == 2 else next(x for x in train if x['round_id'] == 2)
    assert osp.isfile(s['img_path']) and s['img_path'].endswith(f'_{s["image_id"]:05d}.png')
    assert len(s['history']) == 1 and len(s['answer_options']) == NUM_OPTIONS
    d = next(d for d in content['dialogs'] if d['image_id'] == s['image_id'])
    first = d['dialog'][0]
    assert s['history'][0] == [
        content['questions'][first['question']],
        content['answers'][first['answer']],
    ]
    assert s['answer_options'][s['gt_index']] == content['answers'][d['dialog'][1]['answer']]

    val = VisDialDataset(
        'visdial/visdial_1.0_val.json',
        data_root=shapes_world_root,
        image_dirs=['images/val'],
        dense_ann_file='visdial/visdial_1.0_val_dense_annotations.json',
    )
    assert len(val) == 16
    v = val[0]
    assert len(v['gt_index']) == len(v['dialog']) and 0 <= v['dense_round'] < len(v['dialog'])
    rd = v['dialog'][v['dense_round']]
    assert v['gt_relevance'][v['gt_index'][v['dense_round']]] == 1.0
    assert rd['answer_options'][v['gt_index'][v['dense_round']]] == rd['answer']


def _official_like(tmp_path) -> str:
    """A two-dialog json as the official release writes it, the second like the test split
    (earlier rounds without options, the last without an answer)."""
    images = tmp_path / 'VisualDialog_val2018'
    images.mkdir()
    for i in (1, 7):
        Image.new('RGB', (8, 8)).save(images / f'VisualDialog_val2018_{i:012d}.jpg')
    data = dict(
        questions=['is it sunny', 'what color is the cat'],
        answers=['yes', 'no', 'black', 'white'],
        dialogs=[
            dict(
                image_id=1,
                caption='a cat on a mat',
                dialog=[
                    dict(question=0, answer=0, answer_options=[1, 0, 2, 3], gt_index=1),
                    dict(question=1, answer=2, answer_options=[2, 3, 0, 1], gt_index=0),
                ],
            ),
            dict(
                image_id=7,
                caption='a dog',
                dialog=[dict(question=0, answer=1), dict(question=1, answer_options=[3, 2, 1, 0])],
            ),
        ],
    )
    path = tmp_path / 'visdial_1.0_val.json'
    path.write_text(json.dumps(dict(version='1.0', split='val', data=data)))
    dense = [dict(image_id=1, round_id=2, gt_relevance=[1.0, 0.5, 0.0, 0.0])]
    (tmp_path / 'dense.json').write_text(json.dumps(dense))
    return str(tmp_path)


def test_official_json_with_test_style_rounds(tmp_path) -> None:
    root = _official_like(tmp_path)
    dialogs = load_visdial(osp.join(root, 'visdial_1.0_val.json'))
    assert (
        dialogs[1]['rounds'][1]['answer'] is None
        and dialogs[1]['rounds'][0]['answer_options'] == []
    )
    ds = VisDialDataset(
        'visdial_1.0_val.json',
        data_root=root,
        image_dirs=['VisualDialog_val2018'],
        dense_ann_file='dense.json',
    )
    a, b = ds[0], ds[1]
    assert a['gt_index'] == [1, 0] and a['dense_round'] == 1 and a['gt_relevance'][0] == 1.0
    assert b['gt_index'] == [-1] and b['dense_round'] == -1  # only the last round is ranked
    assert b['dialog'][1]['answer_options'] == ['white', 'black', 'no', 'yes']
    train = VisDialDataset(
        'visdial_1.0_val.json', data_root=root, image_dirs=['VisualDialog_val2018'], per_round=True
    )
    assert len(train) == 2  # rounds with a true answer among options


def test_bad_input_is_named(tmp_path) -> None:
    root = _official_like(tmp_path)
    with pytest.raises(FileNotFoundError, match='image_id 1'):
        VisDialDataset('visdial_1.0_val.json', data_root=root, image_dirs=['.'])
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(data=dict(questions=[], answers=[]))))
    with pytest.raises(ValueError, match='not a VisDial json'):
        load_visdial(str(bad))
    broken = json.loads((tmp_path / 'visdial_1.0_val.json').read_text())
    broken['data']['dialogs'][0]['dialog'][0]['question'] = 5
    bad.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match='dialog 0 round 1'):
        load_visdial(str(bad))
