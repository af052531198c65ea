"""End to end: a tiny BLIP visual dialog model trained on the shapes world's dialogs must
rank the true answer among 100 candidates far above chance (R@1 1%, MRR ~5%). The question
alone allows R@1 ~33% (it tells the answer's form); what these runs reach is measured against
that and against the same model shown other images in docs/visdial.md.

The default run is a small world and few epochs (CI); the full toy (the numbers in
docs/visdial.md) is marked slow.
"""

import os.path as osp
from typing import Optional

import pytest
import torch
from mmengine.config import Config

from blip_plugin.datasets.shapes_world import make_shapes_world
from blip_plugin.registry import RUNNERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VISDIAL = osp.join(REPO, 'configs/toy/blip-tiny_1xb32_shapes-visdial.py')
PRETRAIN = osp.join(REPO, 'configs/toy/blip-tiny_1xb32_shapes-pretrain.py')


def pretrain(root: str, work_dir: str, epochs: int) -> str:
    """The toy pre-training (ITC + ITM + LM on the world's web pairs); its last checkpoint."""
    cfg = Config.fromfile(PRETRAIN)
    cfg.work_dir = work_dir
    cfg.model.tokenizer.name_or_path = osp.join(root, 'tokenizer')
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler[-1].end = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    RUNNERS.build(cfg).train()
    return osp.join(work_dir, f'epoch_{epochs}.pth')


def train_visdial(
    root: str,
    work_dir: str,
    epochs: int,
    other_images: bool = False,
    load_from: Optional[str] = None,
    train_rounds: Optional[int] = None,
    val_dialogs: Optional[int] = None,
    **model,
) -> dict:
    """Train the toy config on the world at ``root``; the val scores after training, and
    with ``other_images`` also those of the same model shown another dialog's image
    (``other/...``: what the text alone gets it). ``load_from``: initial weights (None:
    from scratch); ``train_rounds`` / ``val_dialogs``: use the first that many only."""
    cfg = Config.fromfile(VISDIAL)
    cfg.work_dir = work_dir
    cfg.load_from = load_from
    if train_rounds:
        cfg.train_dataloader.dataset.indices = train_rounds
    if val_dialogs:
        cfg.test_dataloader.dataset.indices = val_dialogs
    cfg.model.tokenizer.name_or_path = osp.join(root, 'tokenizer')
    cfg.model.update(model)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs + 1  # evaluated once, by test() on the val split
    cfg.param_scheduler[-1].end = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.default_hooks.logger.interval = 20
    runner = RUNNERS.build(cfg)
    runner.train()
    scores = runner.test()
    if other_images:
        scores.update({f'other/{k}': v for k, v in evaluate_with_other_images(runner).items()})
    return scores


@torch.no_grad()
def evaluate_with_other_images(runner) -> dict:
    """The val scores when every dialog is shown the image of the next dialog in its batch."""
    from blip_plugin.evaluation import VisDialMetric

    model, metric = runner.model.eval(), VisDialMetric(prefix='visdial')
    for batch in runner.test_dataloader:
        data = model.data_preprocessor(batch, False)
        inputs = data['inputs'].roll(1, dims=0)
        metric.process(None, model.predict(inputs, data['data_samples']))
    return metric.evaluate(len(runner.test_dataloader.dataset))


def test_toy_visdial_ranks_far_above_chance(tmp_path) -> None:
    root = str(tmp_path / 'world')
    make_shapes_world(root, num_train=200, num_val=12, num_test=2, image_size=32)
    scores = train_visdial(root, str(tmp_path / 'work'), epochs=3, hard_negatives=0)
    # chance: R@1 1%, R@5 5%, MRR ~5.2%, mean rank 50.5. This short run learns what form
    # each question's answer takes (a colour word, 'a <kind>', yes/no), which the question
    # alone allows (text-only ceiling R@1 ~33%, MRR ~59%). Measured: R@1 24.1, R@5 81.6,
    # MRR 47.9, mean rank 7.4 (docs/visdial.md)
    assert scores['visdial/r@1'] > 10.0, scores
    assert scores['visdial/r@5'] > 30.0, scores
    assert scores['visdial/mrr'] > 25.0, scores
    assert scores['visdial/mean_rank'] < 12.0, scores


@pytest.mark.slow
def test_toy_visdial_from_pretraining(tmp_path) -> None:
    """The toy recipe: pre-training, then VisDial fine-tuning with hard negatives (6,000
    train rounds, 2 epochs; the first 80 val dialogs), and the same model shown other images.
    Measured (docs/visdial.md): R@1 31.5, MRR 57.0, also with other images: at this length
    the tiny model ranks by the answers' form and does not yet use the image."""
    root = str(tmp_path / 'world')
    make_shapes_world(root)
    ckpt = pretrain(root, str(tmp_path / 'pretrain'), epochs=10)
    scores = train_visdial(
        root,
        str(tmp_path / 'visdial'),
        epochs=2,
        other_images=True,
        load_from=ckpt,
        train_rounds=6000,
        val_dialogs=80,
    )
    assert scores['visdial/r@1'] > 20.0, scores  # chance 1%
    assert scores['visdial/mrr'] > 45.0, scores  # chance 5.2%
    assert scores['visdial/r@5'] > 80.0, scores
    assert scores['visdial/r@1'] >= scores['other/visdial/r@1'] - 3.0, scores
