"""End to end: the toy grounding model must learn the shapes world.

The default run fits a handful of training images and asserts the decoded boxes are right far
more often than the untrained model's; the full run (configs/toy/blip-tiny_1xb32_shapes-refcoco.py as is, docs/grounding.md's numbers) is
marked slow and must also beat picking a random object of the image.
"""

import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from blip_plugin.datasets.refcoco import BlipRefCOCO
from blip_plugin.datasets.shapes_world import make_shapes_world
from blip_plugin.models.heads.grounding_head import box_iou
from blip_plugin.registry import RUNNERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(REPO, 'configs/toy/blip-tiny_1xb32_shapes-refcoco.py')
ACC = 'visual-grounding/acc'


def toy_cfg(root: str, work_dir: str, epochs: int) -> Config:
    cfg = Config.fromfile(TOY)
    cfg.work_dir = work_dir
    cfg.model.tokenizer.name_or_path = osp.join(root, 'tokenizer')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.param_scheduler[1].end = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.default_hooks.logger.interval = 10
    return cfg


def chance(root: str, split: str = 'testA') -> dict:
    """Accuracy (%) of boxes that ignore the text: the mean train box size at the image centre,
    and (expected) a random object of the same image."""
    kw = dict(
        data_root=root,
        ann_file='annotations/refcoco/instances.json',
        split_file='annotations/refcoco/refs(unc).p',
        lazy_init=False,
    )
    train = np.concatenate([d['gt_bboxes'] for d in BlipRefCOCO(split='train', **kw)])
    w, h = (train[:, 2:] - train[:, :2]).mean(0)
    with open(osp.join(root, 'annotations/refcoco/instances.json')) as f:
        coco = json.load(f)
    side = coco['images'][0]['width']
    objects: dict = {}
    for a in coco['annotations']:
        x, y, bw, bh = a['bbox']
        objects.setdefault(a['image_id'], []).append([x, y, x + bw, y + bh])
    test = BlipRefCOCO(split=split, **kw)
    gt = torch.tensor(np.concatenate([d['gt_bboxes'] for d in test]), dtype=torch.float64)
    c = side / 2
    centre = torch.tensor([c - w / 2, c - h / 2, c + w / 2, c + h / 2]).expand_as(gt)
    random_object = [
        (box_iou(o, g.expand_as(o))[0] >= 0.5).double().mean().item()
        for o, g in zip(
            (torch.tensor(objects[d['image_id']], dtype=torch.float64) for d in test), gt
        )
    ]
    return dict(
        centre=100 * (box_iou(centre, gt)[0] >= 0.5).double().mean().item(),
        random_object=100 * float(np.mean(random_object)),
    )


def run(root: str, work_dir: str, epochs: int) -> tuple:
    runner = RUNNERS.build(toy_cfg(root, work_dir, epochs))
    before = runner.test()
    runner.train()
    return before, runner.test()


def test_toy_grounding_learns(tmp_path) -> None:
    """Fast version: the toy model fits the boxes of a handful of training images (the whole
    loop: dataset, box tokens, greedy decoding, pixel boxes, metric); untrained it finds none."""
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    root = str(tmp_path / 'world')
    make_shapes_world(root, num_train=8, num_val=2, num_test=2)
    cfg = toy_cfg(root, str(tmp_path / 'work'), epochs=40)
    cfg.train_dataloader.batch_size = 16
    cfg.test_dataloader.dataset.split = 'train'
    cfg.param_scheduler[0].end = 10
    cfg.train_cfg.val_interval = 1000  # no validation
    runner = RUNNERS.build(cfg)
    before = runner.test()
    runner.train()
    after = runner.test()
    assert before[ACC] < 10.0, before
    # measured: 0.0 -> 41.2 accuracy, mIoU 4.6 -> 29.2
    assert after[ACC] > 25.0, after
    assert after['visual-grounding/miou'] > before['visual-grounding/miou'] + 15.0


@pytest.mark.slow
def test_toy_grounding_full_run(tmp_path) -> None:
    root = str(tmp_path / 'world')
    make_shapes_world(root)
    _, after = run(root, str(tmp_path / 'work'), epochs=3)
    base = chance(root)
    # measured (docs/grounding.md): testA 57.8 vs 45.6 for a random object, 15.3 centre box
    assert after[ACC] > base['random_object'] + 5.0, (after, base)
    assert after[ACC] > 2 * base['centre'], (after, base)
