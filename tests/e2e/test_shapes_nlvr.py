"""End to end: the toy NLVR2 model must learn to compare the two images of a pair.

The default run (CI) trains on the "more shapes" statements, all written as "the right image
contains more shapes than the left image" (a "left ... than the right" pair has its images
swapped), without the left/right swap: the statement is then the same for every pair,
so the statement alone predicts no better than the majority label, and beating it by a wide
margin means the answer came from comparing the two images (pair loading, stacking, the twin
cross-attention, the head, the metric). The full toy (every family, swap on,
configs/toy/blip-tiny_1xb32_shapes-nlvr.py as is) does not yet beat the statement-only prior
by a wide margin (docs/nlvr.md), so it has no test yet.
"""

import collections
import json
import os
import os.path as osp
import re
from typing import Callable

import pytest
import torch
from mmengine.config import Config

from blip_plugin.datasets.shapes_world import make_shapes_world
from blip_plugin.registry import RUNNERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(REPO, 'configs/toy/blip-tiny_1xb32_shapes-nlvr.py')
ACC = 'nlvr/accuracy'
RIGHT_MORE = 'the right image contains more shapes than the left image'
LEFT_MORE = 'the left image contains more shapes than the right image'


def load(root: str, split: str) -> list:
    with open(osp.join(root, 'annotations', f'nlvr_{split}.json')) as f:
        return json.load(f)


def toy_cfg(root: str, work_dir: str, epochs: int) -> Config:
    cfg = Config.fromfile(TOY)
    cfg.work_dir = work_dir
    cfg.model.tokenizer.name_or_path = osp.join(root, 'tokenizer')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None  # test only at the end
    cfg.param_scheduler[1].end = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.default_hooks.logger.interval = 10
    return cfg


def majority(entries: list) -> float:
    """Accuracy (%) of always answering the most frequent label."""
    counts = collections.Counter(e['label'] for e in entries)
    return 100.0 * max(counts.values()) / len(entries)


def family(sentence: str) -> str:
    """The statement without the shape it names ("both images contain" for "both images
    contain a red circle")."""
    return re.sub(r' an? \w+ \w+$', '', sentence)


def statement_prior(train: list, dev: list, key: Callable[[str], str] = str) -> float:
    """Accuracy (%) on ``dev`` of answering each statement (grouped by ``key``) with its
    majority label in ``train`` (the overall majority for a group never seen): a text-only
    model."""
    by_sentence: dict = collections.defaultdict(collections.Counter)
    for e in train:
        by_sentence[key(e['sentence'])][e['label']] += 1
    overall = collections.Counter(e['label'] for e in train).most_common(1)[0][0]
    hits = 0
    for e in dev:
        counts = by_sentence.get(key(e['sentence']))
        hits += (counts.most_common(1)[0][0] if counts else overall) == e['label']
    return 100.0 * hits / len(dev)


def right_more(entries: list) -> list:
    """The pairs of the two "more shapes" statements, all as "the right image contains more
    shapes than the left image": a "left ... than the right" pair gets its images swapped,
    which keeps its label."""
    out = []
    for e in entries:
        if e['sentence'] == RIGHT_MORE:
            out.append(e)
        elif e['sentence'] == LEFT_MORE:
            out.append(dict(e, images=e['images'][::-1], sentence=RIGHT_MORE))
    return out


def test_toy_nlvr_learns_to_compare_the_images(tmp_path) -> None:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    root = str(tmp_path / 'world')
    make_shapes_world(root, num_train=400, num_val=300, num_test=1)
    subset = {}
    for split in ('train', 'dev'):
        subset[split] = right_more(load(root, split))
        with open(osp.join(root, 'annotations', f'nlvr_{split}_right_more.json'), 'w') as f:
            json.dump(subset[split], f)
    cfg = toy_cfg(root, str(tmp_path / 'work'), epochs=14)
    cfg.train_dataloader.dataset.ann_file = 'annotations/nlvr_train_right_more.json'
    cfg.train_dataloader.dataset.pipeline[0].prob = 0.0  # no swap: one statement for all
    cfg.param_scheduler[0].end = 10
    # one statement family learns fastest at 0.07 (84.7-85.9 here; the config's 0.15, set for the
    # full mix, gives 77.6: docs/nlvr.md)
    cfg.model.init_std = 0.07
    cfg.test_dataloader.dataset.ann_file = 'annotations/nlvr_dev_right_more.json'
    runner = RUNNERS.build(cfg)
    runner.train()
    dev = runner.test()[ACC]
    print(f'NLVR2 toy, "more shapes" statements: dev {dev:.1f}')
    # the statement is fixed, so the text-only prior is the majority label
    base = majority(subset['dev'])
    # measured on 85 dev pairs: 84.7-85.9 vs 62.4 for the majority label (569 train pairs)
    assert dev > base + 15.0, (dev, base, len(subset['train']), len(subset['dev']))


@pytest.mark.slow
def test_toy_nlvr_full_mix_beats_the_text_only_prior(tmp_path) -> None:
    """Every statement family, left/right swap on: the toy config as it is, 30 epochs."""
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    root = str(tmp_path / 'world')
    make_shapes_world(root)
    runner = RUNNERS.build(toy_cfg(root, str(tmp_path / 'work'), epochs=30))
    runner.train()
    test = runner.test()[ACC]  # the config's test split
    train, test_entries = load(root, 'train'), load(root, 'test')
    # the stronger of the two text-only answers: per statement, or per statement family
    prior = max(statement_prior(train, test_entries, key) for key in (str, family))
    # measured (docs/nlvr.md): 69.5 (this test, 2 threads) and 73.5 (1 thread) against 53.5
    # for the text-only prior (200 test pairs)
    assert test > prior + 10.0, (test, prior)
