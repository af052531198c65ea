"""WebPairs: the official pre-training annotation lists as JSON and JSON lines, several captions
per image, and build-time errors that name the file and the annotation."""

import json
import os.path as osp

import pytest

from blip_plugin.datasets import WebPairs, pre_caption

ANNS = [
    {'image': 'a.png', 'caption': 'A red circle.'},
    {'image': 'b.png', 'caption': ['Two blue squares!', 'a  square (blue)']},
]
EXPECTED = [
    ('img/a.png', 'a red circle'),
    ('img/b.png', 'two blue squares'),
    ('img/b.png', 'a square blue'),
]


def write(path, anns, jsonl: bool) -> str:
    with open(path, 'w', encoding='utf-8') as f:
        if jsonl:
            f.write('\n'.join(json.dumps(a) for a in anns) + '\n')
        else:
            json.dump(anns, f)
    return str(path)


def build(tmp_path, anns, jsonl=False, **kwargs) -> WebPairs:
    ann = write(tmp_path / ('anns.jsonl' if jsonl else 'anns.json'), anns, jsonl)
    return WebPairs(ann_file=osp.basename(ann), data_root=str(tmp_path), **kwargs)


@pytest.mark.parametrize('jsonl', [False, True])
def test_json_and_jsonl_give_one_sample_per_caption(tmp_path, jsonl):
    ds = build(tmp_path, ANNS, jsonl, data_prefix=dict(img_path='img'))
    assert len(ds) == 3
    got = [(osp.relpath(ds[i]['img_path'], tmp_path), ds[i]['gt_caption']) for i in range(3)]
    assert got == EXPECTED  # data_root + data_prefix + image


def test_several_files_and_max_words(tmp_path):
    write(tmp_path / 'one.json', ANNS[:1], False)
    write(tmp_path / 'two.jsonl', ANNS[1:], True)
    ds = WebPairs(ann_file=['one.json', 'two.jsonl'], data_root=str(tmp_path), max_words=2)
    assert [ds[i]['gt_caption'] for i in range(3)] == ['a red', 'two blue', 'a square']
    assert pre_caption('A red circle.', 2) == 'a red'


def test_missing_key_names_file_and_index(tmp_path):
    with pytest.raises(KeyError, match=r'anns\.json: annotation 1 needs "image" and "caption"'):
        build(tmp_path, [ANNS[0], {'image': 'c.png', 'text': 'x'}])


def test_bad_jsonl_line_names_the_line(tmp_path):
    path = tmp_path / 'anns.jsonl'
    path.write_text(json.dumps(ANNS[0]) + '\n\n{"image": "c.png", caption}\n')
    with pytest.raises(ValueError, match=r'anns\.jsonl: line 3 is not valid JSON'):
        WebPairs(ann_file=str(path))
    path.write_text(json.dumps(ANNS[0]) + '\n\n' + json.dumps({'image': 'c.png'}) + '\n')
    with pytest.raises(KeyError, match=r'anns\.jsonl: line 3 needs'):
        WebPairs(ann_file=str(path))


@pytest.mark.parametrize('caption', ['', '  ...  ', ['fine', '!!'], []])
def test_empty_caption_fails_at_build_time(tmp_path, caption):
    with pytest.raises(ValueError, match=r'anns\.json: annotation 1: empty caption'):
        build(tmp_path, [ANNS[0], {'image': 'c.png', 'caption': caption}])


def test_wrong_caption_type_and_not_a_list(tmp_path):
    with pytest.raises(TypeError, match=r'annotation 0: caption must be a str or a list'):
        build(tmp_path, [{'image': 'c.png', 'caption': 3}])
    (tmp_path / 'obj.json').write_text('{"image": "c.png"}')
    with pytest.raises(ValueError, match='expected a JSON list'):
        WebPairs(ann_file=str(tmp_path / 'obj.json'))
