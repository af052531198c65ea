"""The shapes world: determinism, counts, formats, vocabulary coverage, noise, boxes."""

import importlib.util
import json
import os
import os.path as osp
import pickle
import re
from typing import Dict, List

import pytest

from blip_plugin.datasets.shapes_world import make_shapes_world
from blip_plugin.datasets.shapes_world_text import CAPTION_PROMPT, GENERIC_CAPTIONS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load(root: str, name: str) -> object:
    with open(osp.join(root, 'annotations', name), encoding='utf-8') as f:
        return json.load(f)


def file_number(path: str) -> int:
    return int(re.search(r'(\d+)\.png$', path).group(1))


def read_tree(root: str) -> Dict[str, bytes]:
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def all_texts(root: str) -> List[str]:
    texts = [CAPTION_PROMPT]
    texts += [e['caption'] for e in load(root, 'caption_train.json')]
    for split in ('val', 'test'):
        texts += [c for e in load(root, f'caption_{split}.json') for c in e['caption']]
        texts += [e['question'] for e in load(root, f'vqa_{split}.json')]
        texts += [a for e in load(root, f'vqa_{split}_answers.json') for a in e['answer']]
    for e in load(root, 'vqa_train.json'):
        texts += [e['question'], *e['answer']]
    for split in ('train', 'dev', 'test'):
        texts += [e['sentence'] for e in load(root, f'nlvr_{split}.json')]
    with open(osp.join(root, 'annotations', 'refcoco', 'refs(unc).p'), 'rb') as f:
        texts += [s['sent'] for r in pickle.load(f) for s in r['sentences']]
    texts += [e['caption'] for e in load(root, 'web_pairs.json')]
    texts += load(root, 'answer_list.json')
    return texts


def test_same_seed_gives_identical_bytes(tmp_path) -> None:
    kwargs = dict(num_train=6, num_val=3, num_test=3, image_size=32)
    make_shapes_world(str(tmp_path / 'a'), seed=3, **kwargs)
    make_shapes_world(str(tmp_path / 'b'), seed=3, **kwargs)
    make_shapes_world(str(tmp_path / 'c'), seed=4, **kwargs)
    a, b, c = (read_tree(str(tmp_path / n)) for n in 'abc')
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_counts_and_caption_files(shapes_world_root: str) -> None:
    root = shapes_world_root
    with open(osp.join(root, 'meta.json'), encoding='utf-8') as f:
        meta = json.load(f)
    assert meta['args']['num_train'] == 64 and meta['counts']['images']['val'] == 16
    for split, n in (('train', 64), ('val', 16), ('test', 16)):
        assert len(os.listdir(osp.join(root, 'images', split))) == n
    train = load(root, 'caption_train.json')
    assert len(train) == 64 * 5
    for e in train:
        assert osp.isfile(osp.join(root, e['image']))
        assert e['image_id'] == f'shapes_{file_number(e["image"])}'
    for split in ('val', 'test'):
        entries = load(root, f'caption_{split}.json')
        gt = load(root, f'caption_{split}_gt.json')
        assert len(entries) == 16 and all(len(e['caption']) == 5 for e in entries)
        ids = [file_number(e['image']) for e in entries]
        assert [img['id'] for img in gt['images']] == ids
        assert len(gt['annotations']) == 80
        assert len({a['id'] for a in gt['annotations']}) == 80


def test_every_text_tokenizes_without_unk(shapes_world_root: str) -> None:
    from transformers import AutoTokenizer, BertTokenizer

    tok_dir = osp.join(shapes_world_root, 'tokenizer')
    with open(osp.join(tok_dir, 'vocab.txt'), encoding='utf-8') as f:
        vocab = f.read().split('\n')
    assert vocab[:5] == ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    texts = all_texts(shapes_world_root)
    for tokenizer in (
        AutoTokenizer.from_pretrained(tok_dir),
        BertTokenizer.from_pretrained(tok_dir),
    ):
        assert tokenizer.pad_token_id == 0
        ids = tokenizer(texts)['input_ids']
        bad = [t for t, i in zip(texts, ids) if tokenizer.unk_token_id in i]
        assert not bad, bad[:5]


def test_web_pairs_noise(shapes_world_root: str) -> None:
    pairs = load(shapes_world_root, 'web_pairs.json')
    truth = load(shapes_world_root, 'web_pairs_truth.json')
    assert len(pairs) == len(truth) == 64
    assert sum(t['is_noisy'] for t in truth) == round(0.3 * 64)
    own = {}
    for e in load(shapes_world_root, 'caption_train.json'):
        own.setdefault(e['image'], set()).add(e['caption'])
    for pair, t in zip(pairs, truth):
        assert pair['image'] == t['image']
        if t['noise'] == 'generic':
            assert pair['caption'] in GENERIC_CAPTIONS
        elif t['noise'] == 'mismatched':
            assert pair['caption'] not in own[pair['image']]
        else:
            assert not t['is_noisy'] and pair['caption'] in own[pair['image']]
    assert {t['noise'] for t in truth} == {'clean', 'generic', 'mismatched'}


def test_vqa_files(shapes_world_root: str) -> None:
    answer_list = set(load(shapes_world_root, 'answer_list.json'))
    train = load(shapes_world_root, 'vqa_train.json')
    assert all(e['dataset'] == 'vqa' and len(e['answer']) == 10 for e in train)
    for split in ('val', 'test'):
        questions = load(shapes_world_root, f'vqa_{split}.json')
        answers = load(shapes_world_root, f'vqa_{split}_answers.json')
        assert all('answer' not in q for q in questions)
        assert [q['question_id'] for q in questions] == [a['question_id'] for a in answers]
        train += [dict(q, **a) for q, a in zip(questions, answers)]
    assert len({e['question_id'] for e in train}) == len(train) == 3 * 96
    for e in train:
        assert set(e['answer']) <= answer_list
        top = max(set(e['answer']), key=e['answer'].count)
        assert e['answer'].count(top) >= 7
        assert osp.isfile(osp.join(shapes_world_root, e['image']))


def test_nlvr_files(shapes_world_root: str) -> None:
    labels = []
    for split, n in (('train', 4 * 64), ('dev', 16), ('test', 16)):
        entries = load(shapes_world_root, f'nlvr_{split}.json')
        assert len(entries) == n
        for e in entries:
            assert len(e['images']) == 2 and e['images'][0] != e['images'][1]
            assert e['label'] in ('True', 'False')
            labels.append(e['label'])
    assert {'True', 'False'} == set(labels)


def test_refcoco_boxes_inside_images_and_mmpretrain_reads_them(shapes_world_root: str) -> None:
    from mmpretrain.datasets import RefCOCO

    instances = load(shapes_world_root, osp.join('refcoco', 'instances.json'))
    sizes = {img['id']: (img['width'], img['height']) for img in instances['images']}
    for ann in instances['annotations']:
        x, y, w, h = ann['bbox']
        width, height = sizes[ann['image_id']]
        assert 0 <= x and 0 <= y and w > 0 and h > 0
        assert x + w <= width and y + h <= height
    for split in ('train', 'val', 'testA', 'testB'):
        dataset = RefCOCO(
            data_root=shapes_world_root,
            ann_file='annotations/refcoco/instances.json',
            data_prefix='',
            split_file='annotations/refcoco/refs(unc).p',
            split=split,
            serialize_data=False,
        )
        sample = dataset.get_data_info(0)
        assert osp.isfile(sample['img_path']) and sample['text'].startswith('the ')
        assert sample['gt_bboxes'].shape == (1, 4)


def test_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match='noise_fraction'):
        make_shapes_world(str(tmp_path), num_train=2, num_val=1, num_test=1, noise_fraction=2.0)


def test_cli_skips_up_to_date_world(tmp_path, capsys) -> None:
    spec = importlib.util.spec_from_file_location(
        'make_shapes_world_cli', osp.join(REPO, 'tools', 'make_shapes_world.py')
    )
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    argv = ['--root', str(tmp_path), '--num-train', '4', '--num-val', '2', '--num-test', '2']
    cli.main(argv)
    assert 'written' in capsys.readouterr().out
    meta_path = tmp_path / 'meta.json'
    stamp = meta_path.stat().st_mtime_ns
    cli.main(argv)
    assert 'up to date' in capsys.readouterr().out
    assert meta_path.stat().st_mtime_ns == stamp
    cli.main([*argv, '--seed', '1'])
    assert 'written' in capsys.readouterr().out
    cli.main([*argv, '--seed', '1', '--force'])
    assert 'written' in capsys.readouterr().out


def test_nlvr_statements_do_not_give_away_the_label() -> None:
    """The label of an NLVR2 pair must depend on the images: per statement family, True
    and False are near balanced, so a text-only model stays near chance."""
    import collections
    import re

    import numpy as np

    from blip_plugin.datasets.shapes_world import _nlvr
    from blip_plugin.datasets.shapes_world_scene import sample_scene

    rng = np.random.default_rng(0)
    items = [(f'img_{i}.png', i, sample_scene(rng, 64)[0]) for i in range(2000)]
    entries = _nlvr({'test': items}, seed=0)['test']
    families = collections.defaultdict(collections.Counter)
    for e in entries:
        family = re.sub(r'contains? an? \w+ \w+', 'X', e['sentence'])
        families[family][e['label']] += 1
    assert len(families) == 5, families
    for family, counts in families.items():
        share = counts['True'] / sum(counts.values())
        assert 0.35 < share < 0.65, (family, counts)
    assert all(a != b for a, b in (e['images'] for e in entries))
