"""BlipRunner: weights-only checkpoints, exact resume, crash-safe saves, load_from."""

import os
import sys
import uuid
from pathlib import Path
from typing import Any, Optional

import mmengine.runner.loops
import pytest
import torch
from mmengine.hooks import Hook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tools'))
import blip_toy_plugin  # noqa: E402,F401  (registers the toy model, dataset and metric)

from blip_plugin.engine import (  # noqa: E402
    BlipRunner,
    LegacyCheckpointError,
    from_safe,
    load_checkpoint_file,
    upgrade_legacy_checkpoint,
)


class Interrupt(Exception):
    pass


class InterruptHook(Hook):
    """Stop training right after the checkpoint of ``at`` (epoch or iteration) is written."""

    priority = 'LOWEST'  # after CheckpointHook

    def __init__(self, at: int, by_epoch: bool) -> None:
        self.at, self.by_epoch = at, by_epoch

    def after_train_epoch(self, runner: Any) -> None:
        if self.by_epoch and runner.epoch == self.at:
            raise Interrupt

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if not self.by_epoch and runner.iter == self.at:
            raise Interrupt


def _loader(shuffle: bool) -> dict:
    return dict(
        dataset=dict(type='BlipToyDataset'),
        batch_size=4,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=shuffle, seed=0),
        collate_fn=dict(type='default_collate'),
    )


def make_runner(
    work_dir: Path,
    by_epoch: bool = True,
    length: int = 4,
    interval: int = 1,
    dropout: float = 0.2,
    val_interval: int = 100,
    max_keep: int = -1,
    resume: bool = False,
    load_from: Optional[str] = None,
    hooks: Optional[list] = None,
) -> BlipRunner:
    if by_epoch:
        train_cfg = dict(by_epoch=True, max_epochs=length, val_interval=val_interval)
        sched = dict(type='MultiStepLR', milestones=[2], by_epoch=True)
    else:
        train_cfg = dict(by_epoch=False, max_iters=length, val_interval=val_interval)
        sched = dict(type='MultiStepLR', milestones=[5], by_epoch=False)
    return BlipRunner(
        model=dict(type='BlipToyModel', dropout=dropout),
        work_dir=str(work_dir),
        experiment_name=f'toy-{uuid.uuid4().hex[:8]}',
        train_dataloader=_loader(shuffle=True),
        train_cfg=train_cfg,
        val_dataloader=_loader(shuffle=False),
        val_cfg=dict(),
        val_evaluator=dict(type='BlipToyMetric'),
        test_dataloader=_loader(shuffle=False),
        test_cfg=dict(),
        test_evaluator=dict(type='BlipToyMetric'),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        param_scheduler=sched,
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=100),
            checkpoint=dict(
                type='CheckpointHook', interval=interval, by_epoch=by_epoch, max_keep_ckpts=max_keep
            ),
        ),
        custom_hooks=hooks,
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from,
        default_scope='blip_plugin',
    )


def weights(runner: BlipRunner) -> dict:
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_checkpoints_load_weights_only(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, length=2)
    runner.train()
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        ckpt = torch.load(tmp_path / name, map_location='cpu', weights_only=True)
        assert {
            'meta',
            'state_dict',
            'message_hub',
            'optimizer',
            'param_schedulers',
            'rng_state',
        } <= ckpt.keys()
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'epoch_2.pth')
    # the round trip restores MMEngine's own types
    restored = make_runner(tmp_path, length=2).load_checkpoint(str(tmp_path / 'epoch_2.pth'))
    assert type(restored['message_hub']['log_scalars']['train/loss']).__name__ == 'HistoryBuffer'
    assert restored['meta']['dataset_meta']['palette'].dtype.name == 'uint8'
    assert 'mmpretrain.models' not in sys.modules
    assert 'mmpretrain.engine' not in sys.modules


@pytest.mark.parametrize('by_epoch', [True, False], ids=['epochs', 'iters'])
def test_interrupted_run_resumes_exactly(
    tmp_path: Path, by_epoch: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4 epochs of 4 iterations, or 10 iterations stopped mid-epoch at 5 (the loop replays
    # the dataloader over them). Dropout makes the RNG state matter; the full run validates
    # after every checkpoint and the interrupted one only every 3rd interval.
    monkeypatch.setattr(mmengine.runner.loops.time, 'sleep', lambda s: None)  # 2 s per epoch
    length, half = (4, 2) if by_epoch else (10, 5)
    full = make_runner(tmp_path / 'full', by_epoch, length, interval=half, val_interval=half)
    full.train()

    first = make_runner(
        tmp_path / 'cut',
        by_epoch,
        length,
        interval=half,
        val_interval=3 * half,
        hooks=[InterruptHook(half, by_epoch)],
    )
    with pytest.raises(Interrupt):
        first.train()
    second = make_runner(
        tmp_path / 'cut', by_epoch, length, interval=half, val_interval=3 * half, resume=True
    )
    second.train()
    assert (second.epoch, second.iter) == (full.epoch, full.iter)
    assert_same(weights(full), weights(second))


def _half_written_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
    f.write(b'PK\x03\x04 half a checkpoint')
    raise OSError('disk full (simulated)')


def test_crash_during_save_keeps_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = torch.save
    calls = []

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:  # the checkpoint of epoch 2
            _half_written_save(obj, f)
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, 'save', save)
    runner = make_runner(tmp_path, length=3, max_keep=1)
    with pytest.raises(OSError, match='simulated'):
        runner.train()
    monkeypatch.setattr(torch, 'save', real_save)

    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    assert not [p for p in tmp_path.iterdir() if p.name.endswith('.tmp')]
    last = (tmp_path / 'last_checkpoint').read_text()
    assert last == str(tmp_path / 'epoch_1.pth')
    assert torch.load(last, weights_only=True)['meta']['epoch'] == 1
    resumed = make_runner(tmp_path, length=3, max_keep=1, resume=True)
    resumed.train()
    assert resumed.epoch == 3


def test_legacy_checkpoint_is_refused_clearly(tmp_path: Path) -> None:
    runner = make_runner(tmp_path / 'run', length=1)
    runner.train()
    # what plain MMEngine writes: HistoryBuffers and numpy arrays pickled, no RNG state
    legacy = from_safe(torch.load(tmp_path / 'run' / 'epoch_1.pth', weights_only=True))
    legacy.pop('rng_state')
    torch.save(legacy, tmp_path / 'legacy.pth')

    with pytest.raises(LegacyCheckpointError, match='HistoryBuffer.*\n.*--trust-pickle'):
        load_checkpoint_file(str(tmp_path / 'legacy.pth'))
    upgrade_legacy_checkpoint(str(tmp_path / 'legacy.pth'), str(tmp_path / 'new.pth'))
    ckpt = torch.load(tmp_path / 'new.pth', weights_only=True)
    assert ckpt['message_hub']['log_scalars']['train/loss']['__blip_type__'] == 'HistoryBuffer'
    resumed = make_runner(
        tmp_path / 'again', length=2, resume=True, load_from=str(tmp_path / 'new.pth')
    )
    resumed.train()
    assert resumed.epoch == 2


def test_load_from_loads_weights_only(tmp_path: Path) -> None:
    trained = make_runner(tmp_path / 'run', length=1)
    trained.train()
    bare = tmp_path / 'bare.pth'
    torch.save({f'module.{k}': v for k, v in trained.model.state_dict().items()}, bare)
    for path in (tmp_path / 'run' / 'epoch_1.pth', bare):
        tester = make_runner(tmp_path / f'test-{path.stem}', load_from=str(path))
        metrics = tester.test()
        assert 'mse' in metrics
        assert_same(weights(trained), weights(tester))


def test_auto_resume_with_dangling_pointer_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'gone.pth'))
    with pytest.raises(FileNotFoundError, match='gone.pth'):
        make_runner(tmp_path, length=1, resume=True).train()
    assert not os.path.exists(tmp_path / 'gone.pth')
