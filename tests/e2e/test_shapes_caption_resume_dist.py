"""The toy captioner through the real tools: resume after an interruption ends with the same
weights as an uninterrupted run, and a 2-process CPU (gloo) run trains and evaluates."""

import os
import os.path as osp
import subprocess
import sys

import torch
from mmengine.hooks import Hook

from blip_plugin.datasets.shapes_world import make_shapes_world
from blip_plugin.registry import RUNNERS

from .test_shapes_caption import REPO, TOY, toy_cfg


class _CountIters(Hook):
    def __init__(self) -> None:
        self.n = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.n += 1


def _train(root: str, work_dir: str, max_epochs: int, resume: bool = False) -> tuple:
    cfg = toy_cfg(root, work_dir, epochs=2)  # the schedule of a 2-epoch run ...
    cfg.train_cfg.max_epochs = max_epochs  # ... stopped after max_epochs
    cfg.default_hooks.checkpoint.interval = 1
    cfg.resume = resume
    runner = RUNNERS.build(cfg)
    counter = _CountIters()
    runner.register_hook(counter)
    runner.train()
    return {k: v.clone() for k, v in runner.model.state_dict().items()}, counter.n


def test_resume_equals_uninterrupted(tmp_path) -> None:
    root = str(tmp_path / 'world')
    make_shapes_world(root, num_train=48, num_val=8, num_test=8)
    straight, n_straight = _train(root, str(tmp_path / 'a'), max_epochs=2)
    _, n_first = _train(root, str(tmp_path / 'b'), max_epochs=1)  # "killed" after epoch 1
    resumed, n_resumed = _train(root, str(tmp_path / 'b'), max_epochs=2, resume=True)
    # the resumed run trained epoch 2 only: it really continued from the checkpoint
    assert n_first == n_resumed == n_straight // 2 > 0
    assert straight.keys() == resumed.keys()
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), k


def test_two_process_gloo_run(tmp_path) -> None:
    root = str(tmp_path / 'world')
    make_shapes_world(root, num_train=64, num_val=8, num_test=8)
    cfg = toy_cfg(root, str(tmp_path / 'work'), epochs=1)
    cfg.train_dataloader.batch_size = 8
    cfg.val_dataloader.batch_size = cfg.test_dataloader.batch_size = 4
    cfg_path = str(tmp_path / 'toy_dist.py')
    cfg.dump(cfg_path)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)
    cmd = [
        sys.executable,
        '-m',
        'torch.distributed.run',
        '--nproc_per_node',
        '2',
        '--master_port',
        '29533',
        osp.join(REPO, 'tools/train.py'),
        cfg_path,
        '--launcher',
        'pytorch',
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert 'coco-caption/CIDEr' in log
    assert osp.isfile(osp.join(str(tmp_path / 'work'), 'epoch_1.pth'))
    assert TOY  # the config under test
