"""Shared end-to-end training: the toy image models are trained once per test session and
reused by every e2e test that needs them (the image tests assert on them, the zero-shot video
tests evaluate them on clips), so CI pays for each training run once.

``shapes_e2e_world``: a 400-image shapes world (20 val, 40 test images) with 100 test clips.
``trained_retrieval``: pre-training then retrieval fine-tuning on it (test_shapes_retrieval.py's
recipe); ``trained_vqa``: VQA training on it. Both return the checkpoint and the image scores.
``blind_answer``: the question-only baseline of the world's VQA questions (and clip questions).
"""

import collections
import json
import os.path as osp
import re
from typing import Callable, NamedTuple

import pytest
from mmengine.config import Config

from blip_plugin.registry import RUNNERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(REPO, 'configs', 'toy')
PRETRAIN = osp.join(TOY, 'blip-tiny_1xb32_shapes-pretrain.py')
RETRIEVAL = osp.join(TOY, 'blip-tiny_1xb32_shapes-retrieval.py')
VQA = osp.join(TOY, 'blip-tiny_1xb32_shapes-vqa.py')


class Trained(NamedTuple):
    """A toy model trained on a shapes world: its last checkpoint and test-split scores."""

    root: str
    checkpoint: str
    scores: dict


def _local(cfg: Config, root: str, work_dir: str, epochs: int) -> Config:
    """A toy config on ``root``, in-process data loading, ``epochs`` epochs."""
    cfg.work_dir = work_dir
    cfg.model.tokenizer.name_or_path = osp.join(root, 'tokenizer')
    if cfg.model.get('answer_list'):
        cfg.model.answer_list = osp.join(root, 'annotations', 'answer_list.json')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key].dataset.data_root = root
            cfg[key].num_workers = 0
            cfg[key].persistent_workers = False
    cfg.train_cfg.max_epochs = epochs
    if cfg.train_cfg.get('val_interval'):
        cfg.train_cfg.val_interval = epochs
    cfg.param_scheduler[-1].end = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.default_hooks.logger.interval = 10
    return cfg


def pretrain_then_retrieval(
    root: str, work: str, pre_epochs: int, ft_epochs: int, small: bool = False
) -> Trained:
    """Toy pre-training, then retrieval fine-tuning from its last checkpoint; tested on the
    image test split."""
    pre = _local(Config.fromfile(PRETRAIN), root, osp.join(work, 'pretrain'), pre_epochs)
    ft = _local(Config.fromfile(RETRIEVAL), root, osp.join(work, 'retrieval'), ft_epochs)
    if small:  # a 400-pair world: a short warm-up, and queues shorter than the data
        pre.param_scheduler[0].end = 10
        pre.model.queue_size = ft.model.queue_size = 128
        ft.optim_wrapper.optimizer.lr = 1e-3
    RUNNERS.build(pre).train()
    ft.load_from = osp.join(work, 'pretrain', f'epoch_{pre_epochs}.pth')
    runner = RUNNERS.build(ft)
    runner.train()
    scores = runner.test()
    return Trained(root, osp.join(work, 'retrieval', f'epoch_{ft_epochs}.pth'), scores)


def train_vqa(root: str, work: str, epochs: int, lr: float) -> Trained:
    """The toy VQA config trained from scratch (no validation); tested on the image test
    split."""
    cfg = _local(Config.fromfile(VQA), root, work, epochs)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=10**6)
    cfg.param_scheduler[0].update(start_factor=0.1, end=20)  # 400 images: a short warm-up
    cfg.optim_wrapper.optimizer.lr = lr
    runner = RUNNERS.build(cfg)
    runner.train()
    return Trained(root, osp.join(work, f'epoch_{epochs}.pth'), runner.test())


def _template(question: str) -> str:
    q = re.sub(r'\b(red|green|blue|yellow|purple|orange)\b', 'C', question)
    q = re.sub(r'\b(circle|square|triangle)\b', 'K', q)
    return re.sub(r'(on the left|on the right|at the top|at the bottom|in the centre)', 'P', q)


def question_prior(root: str) -> Callable[[str], str]:
    """What the question alone gives: for each question template (colour, kind and position
    words blanked), the answer most frequent on the world's VQA train split."""
    prior: dict = collections.defaultdict(collections.Counter)
    with open(osp.join(root, 'annotations', 'vqa_train.json')) as f:
        for e in json.load(f):
            answer = collections.Counter(e['answer']).most_common(1)[0][0]
            prior[_template(e['question'])][answer] += 1

    def answer(question: str) -> str:
        counts = prior.get(_template(question))
        return counts.most_common(1)[0][0] if counts else ''

    return answer


@pytest.fixture(scope='session')
def shapes_e2e_world(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 400-image shapes world (20 val, 40 test images) and 100 test clips, generated once."""
    from blip_plugin.datasets.shapes_world import make_shapes_world
    from blip_plugin.datasets.shapes_world_video import make_shapes_video

    root = str(tmp_path_factory.mktemp('e2e_world'))
    make_shapes_world(root, num_train=400, num_val=20, num_test=40)
    make_shapes_video(root, num_val=2, num_test=100)
    return root


@pytest.fixture(scope='session')
def trained_retrieval(shapes_e2e_world: str, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Toy pre-training (3 epochs) then retrieval fine-tuning (3 epochs), once per session."""
    work = str(tmp_path_factory.mktemp('e2e_retrieval'))
    return pretrain_then_retrieval(shapes_e2e_world, work, pre_epochs=3, ft_epochs=3, small=True)


@pytest.fixture(scope='session')
def trained_vqa(shapes_e2e_world: str, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The toy VQA model trained on the images, once per session."""
    work = str(tmp_path_factory.mktemp('e2e_vqa'))
    return train_vqa(shapes_e2e_world, work, epochs=10, lr=2e-3)


@pytest.fixture(scope='session')
def blind_answer(shapes_e2e_world: str) -> Callable[[str], str]:
    """The question-only baseline on ``shapes_e2e_world`` (:func:`question_prior`)."""
    return question_prior(shapes_e2e_world)


@pytest.fixture
def retrieval_recipe() -> Callable[..., Trained]:
    """:func:`pretrain_then_retrieval`, for runs of other sizes (the slow tests)."""
    return pretrain_then_retrieval


@pytest.fixture
def blind_prior() -> Callable[[str], Callable[[str], str]]:
    """:func:`question_prior`, for other worlds (the slow tests)."""
    return question_prior


@pytest.fixture
def vqa_recipe() -> Callable[..., Trained]:
    """:func:`train_vqa`, for runs of other sizes (the slow tests)."""
    return train_vqa
