"""End to end: the toy captioner must learn the shapes world (the README's main job).

The default run trains a small world for a few epochs and asserts CIDEr far above what the
untrained model scores; the full run (the README's numbers, CIDEr >= 1.0) is marked slow.
"""

import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from blip_plugin.datasets.shapes_world import make_shapes_world
from blip_plugin.registry import RUNNERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(REPO, 'configs/toy/blip-tiny_1xb32_shapes-caption.py')


def toy_cfg(root: str, work_dir: str, epochs: int) -> Config:
    cfg = Config.fromfile(TOY)
    cfg.work_dir = work_dir
    cfg.model.tokenizer.name_or_path = osp.join(root, 'tokenizer')
    for split, loader, evaluator in (
        ('val', 'val_dataloader', 'val_evaluator'),
        ('test', 'test_dataloader', 'test_evaluator'),
    ):
        cfg[loader].dataset.data_root = root
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[evaluator].ann_file = osp.join(root, f'annotations/caption_{split}_gt.json')
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.param_scheduler[1].end = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.default_hooks.logger.interval = 10
    return cfg


def run(root: str, work_dir: str, epochs: int) -> tuple:
    runner = RUNNERS.build(toy_cfg(root, work_dir, epochs))
    before = runner.test()['coco-caption/CIDEr'] if epochs else None
    runner.train()
    after = runner.test()
    return before, after


def test_toy_captioner_learns(tmp_path) -> None:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    root = str(tmp_path / 'world')
    make_shapes_world(root, num_train=400, num_val=20, num_test=40)
    before, after = run(root, str(tmp_path / 'work'), epochs=3)
    # an untrained decoder scores ~0; a captioner that learned colours and kinds far more
    assert before < 0.1
    assert after['coco-caption/CIDEr'] > 0.5, after
    assert after['coco-caption/Bleu_1'] > 0.5, after


@pytest.mark.slow
def test_toy_captioner_full_run(tmp_path) -> None:
    root = str(tmp_path / 'world')
    make_shapes_world(root)
    _, after = run(root, str(tmp_path / 'work'), epochs=8)
    assert after['coco-caption/CIDEr'] >= 1.0, after
