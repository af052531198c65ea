"""Epoch-based training with checkpoints every N iterations: a run interrupted inside an epoch
resumes with the batches after its checkpoint (MMEngine would retrain the whole epoch) and
ends with the weights of an uninterrupted run."""

from pathlib import Path
from typing import Any

import mmengine.runner.loops
import pytest
from mmengine.hooks import Hook

from blip_plugin.engine import BlipEpochBasedTrainLoop, BlipRunner

from .test_runner import Interrupt, InterruptHook, assert_same, make_runner, weights


class CountIters(Hook):
    priority = 'LOWEST'

    def __init__(self) -> None:
        self.n = 0

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self.n += 1


def runner(work_dir: Path, hooks: list, resume: bool = False) -> BlipRunner:
    # 3 epochs of 4 iterations (dropout 0.2, shuffled), a checkpoint every 3 iterations
    r = make_runner(work_dir, by_epoch=True, length=3, resume=resume, hooks=hooks)
    ckpt = r._hooks[[type(h).__name__ for h in r._hooks].index('BlipCheckpointHook')]
    ckpt.by_epoch, ckpt.interval, ckpt.filename_tmpl = False, 3, 'iter_{}.pth'
    return r


def test_epoch_configs_use_the_resumable_loop(tmp_path: Path) -> None:
    r = make_runner(tmp_path, by_epoch=True, length=1)
    assert isinstance(r.train_loop, BlipEpochBasedTrainLoop)


@pytest.mark.parametrize('stop_after', [6, 7], ids=['at-checkpoint', 'one-past'])
def test_mid_epoch_checkpoint_resumes_exactly(
    tmp_path: Path, stop_after: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mmengine.runner.loops.time, 'sleep', lambda s: None)
    full_count = CountIters()
    full = runner(tmp_path / 'full', [full_count])
    full.train()

    # iter_6.pth is written 2 batches into epoch 2; the run stops after `stop_after` iterations
    cut = runner(tmp_path / 'cut', [InterruptHook(stop_after - 1, by_epoch=False)])
    with pytest.raises(Interrupt):
        cut.train()
    assert (tmp_path / 'cut' / 'last_checkpoint').read_text().endswith('iter_6.pth')
    count = CountIters()
    resumed = runner(tmp_path / 'cut', [count], resume=True)
    resumed.train()
    assert full_count.n == 12 and count.n == 12 - 6  # the 2 trained batches were not retrained
    assert (resumed.epoch, resumed.iter) == (full.epoch, full.iter) == (3, 12)
    assert_same(weights(full), weights(resumed))
