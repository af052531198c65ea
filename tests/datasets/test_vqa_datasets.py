"""VQA datasets: official BLIP json (VQAv2 + Visual Genome), VQA API files (VQAv2 / OK-VQA),
OCR-VQA; answer weights as official data/vqa_dataset.py; clear errors."""

import json

import numpy as np
import pytest
from PIL import Image

from blip_plugin.datasets.vqa import (
    BlipVQADataset,
    OCRVQADataset,
    VQAOpenEndedDataset,
    answer_weights,
    pre_question,
)


def dump(path, obj) -> str:
    path.write_text(json.dumps(obj))
    return str(path)


def test_pre_question_and_weights_follow_official():
    assert pre_question('What "colour" is it?!  ') == 'what colour is it?'
    assert pre_question('Is it (really) a cat... ; yes: no~*#') == 'is it really a cat  yes no'
    assert pre_question('a b c d', max_words=2) == 'a b'
    answers, weights, counts = answer_weights(['2', 'two', '2', '2', 'two', '3'])
    assert answers == ['2', 'two', '3'] and counts == [3, 2, 1]
    assert weights == pytest.approx([0.5, 1 / 3, 1 / 6])


def test_blip_json_train_val_vg_and_test(tmp_path):
    vqa = [
        dict(
            question_id=7,
            image='val2014/a.jpg',
            question='What is it?',
            answer=['cat'] * 6 + ['dog'] * 4,
            dataset='vqa',
        )
    ]
    vg = [
        dict(question_id=9, image='image/1.jpg', question='How many?', answer='two', dataset='vg')
    ]
    test = [dict(question_id=11, image='test2015/b.jpg', question='Where?')]
    ds = BlipVQADataset(
        ann_file=dump(tmp_path / 'vqa_val.json', vqa),
        data_prefix=dict(img_path='/coco'),
        lazy_init=False,
    )
    info = ds.get_data_info(0)
    assert info['img_path'] == '/coco/val2014/a.jpg' and info['question'] == 'what is it?'
    assert info['gt_answer'] == ['cat', 'dog'] and info['gt_answer_count'] == [6, 4]
    assert info['gt_answer_weight'] == pytest.approx([0.6, 0.4])
    assert info['question_id'] == 7

    vg_info = BlipVQADataset(ann_file=dump(tmp_path / 'vg_qa.json', vg)).get_data_info(0)
    assert vg_info['gt_answer'] == ['two'] and vg_info['gt_answer_weight'] == [0.2]

    test_info = BlipVQADataset(
        ann_file=dump(tmp_path / 'vqa_test.json', test), test_mode=True
    ).get_data_info(0)
    assert 'gt_answer' not in test_info and test_info['question_id'] == 11


def test_answer_file_and_data_root(tmp_path):
    (tmp_path / 'annotations').mkdir()
    dump(
        tmp_path / 'annotations/vqa_val.json',
        [dict(question_id=3, image='images/val/x.png', question='is it red?')],
    )
    dump(
        tmp_path / 'annotations/vqa_val_answers.json',
        [dict(question_id=3, answer=['yes'] * 9 + ['no'])],
    )
    ds = BlipVQADataset(
        ann_file='annotations/vqa_val.json',
        data_root=str(tmp_path),
        answer_file='annotations/vqa_val_answers.json',
    )
    info = ds.get_data_info(0)
    assert info['img_path'] == str(tmp_path / 'images/val/x.png')
    assert info['gt_answer'] == ['yes', 'no'] and info['gt_answer_count'] == [9, 1]


@pytest.mark.parametrize(
    'entry, match',
    [
        (dict(image='a.jpg', answer=['x']), "entry 1: missing key 'question'"),
        (dict(image=3, question='q'), "entry 1: 'image' has type int"),
        (dict(image='a.jpg', question='q', answer=[]), "entry 1: 'answer' must be"),
        (dict(image='a.jpg', question='q', answer=['x'], dataset='gqa'), "'dataset' must be"),
        ('not an object', 'entry 1: expected a JSON object'),
    ],
)
def test_malformed_entries_are_named(tmp_path, entry, match):
    good = dict(question_id=1, image='a.jpg', question='q', answer=['x'])
    path = dump(tmp_path / 'bad.json', [good, entry])
    with pytest.raises(ValueError, match=match) as err:
        BlipVQADataset(ann_file=path)
    assert 'bad.json' in str(err.value)


def test_vqa_api_format_okvqa(tmp_path):
    images = tmp_path / 'val2014'
    images.mkdir()
    (images / 'COCO_val2014_000000000042.jpg').write_bytes(b'')
    questions = dict(questions=[dict(image_id=42, question='What sport?', question_id=420)])
    answers = [dict(answer=a, answer_id=i) for i, a in enumerate(['tennis'] * 2 * 4 + ['golf'] * 2)]
    anns = dict(
        annotations=[
            dict(
                question_id=420,
                image_id=42,
                answers=answers,
                answer_type='other',
                question_type='what sport',
            )
        ]
    )
    ds = VQAOpenEndedDataset(
        question_file=dump(tmp_path / 'q.json', questions),
        ann_file=dump(tmp_path / 'a.json', anns),
        data_prefix=dict(img_path=str(images)),
    )
    info = ds.get_data_info(0)
    assert info['img_path'].endswith('COCO_val2014_000000000042.jpg')
    assert info['gt_answer'] == ['tennis', 'golf'] and info['gt_answer_count'] == [8, 2]
    assert info['answer_type'] == 'other' and info['question'] == 'what sport?'

    questions['questions'].append(dict(image_id=43, question='?', question_id=430))
    with pytest.raises(ValueError, match='question 1: no image with id 43'):
        VQAOpenEndedDataset(
            question_file=dump(tmp_path / 'q.json', questions),
            data_prefix=dict(img_path=str(images)),
        )


def test_ocrvqa(tmp_path):
    books = {
        '111': dict(
            imageURL='http://x/111.jpg',
            questions=['Who wrote this book?', 'Genre?'],
            answers=['Ann Lee', 'Poetry'],
            title='t',
            authorName='a',
            genre='g',
            split=1,
        ),
        '222': dict(imageURL='http://x/222.gif', questions=['q'], answers=['a'], split=1),
        '333': dict(imageURL='http://x/333.png', questions=['q'], answers=['a'], split=3),
    }
    path = dump(tmp_path / 'dataset.json', books)
    train = OCRVQADataset(ann_file=path, split='train', data_prefix=dict(img_path='imgs'))
    assert len(train) == 2
    info = train.get_data_info(0)
    assert info['img_path'] == 'imgs/111.jpg' and info['gt_answer'] == ['Ann Lee']
    assert info['gt_answer_weight'] == [1.0] and info['question'] == 'who wrote this book?'
    assert len(OCRVQADataset(ann_file=path, split='test')) == 1
    books['444'] = dict(imageURL='x.jpg', questions=['a', 'b'], answers=['c'], split=2)
    with pytest.raises(ValueError, match="book '444': 2 questions but 1 answers"):
        OCRVQADataset(ann_file=dump(tmp_path / 'dataset.json', books), split='val')
    with pytest.raises(ValueError, match='split must be'):
        OCRVQADataset(ann_file=path, split='dev')


def test_pipeline_packs_vqa_fields(tmp_path):
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / 'a.png')
    anns = [dict(question_id=5, image='a.png', question='What?', answer=['x', 'x', 'y'])]
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(32, 32)),
        dict(
            type='PackInputs',
            algorithm_keys=['question', 'gt_answer', 'gt_answer_weight', 'gt_answer_count'],
            meta_keys=['question_id'],
        ),
    ]
    from mmengine.registry import init_default_scope

    import blip_plugin.datasets.vqa  # noqa: F401  (registers the dataset)

    init_default_scope('blip_plugin')
    ds = BlipVQADataset(
        ann_file=dump(tmp_path / 'v.json', anns), data_root=str(tmp_path), pipeline=pipeline
    )
    out = ds[0]
    s = out['data_samples']
    assert out['inputs'].shape == (3, 32, 32)
    assert s.question == 'what?' and s.gt_answer == ['x', 'y'] and s.question_id == 5
    assert s.gt_answer_weight == pytest.approx([2 / 3, 1 / 3]) and s.gt_answer_count == [2, 1]
