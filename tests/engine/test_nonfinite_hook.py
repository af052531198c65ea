"""BlipNonFiniteHook: a NaN loss at iteration k stops the run (naming the iteration, the loss
terms and the last good checkpoint) or, with action='skip', drops the step, logged and counted."""

import sys
import uuid
from pathlib import Path
from typing import Any, Optional

import pytest
import torch
from mmengine.logging import MessageHub

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tools'))
from blip_toy_plugin import BlipToyModel  # noqa: E402

from blip_plugin.engine import BlipNonFiniteHook, BlipRunner, NonFiniteLossError  # noqa: E402
from blip_plugin.registry import MODELS  # noqa: E402


@MODELS.register_module(force=True)
class NaNAtToyModel(BlipToyModel):
    """The toy regression whose loss is NaN at the (1-based) iterations in ``nan_at``."""

    def __init__(self, nan_at: tuple = ()) -> None:
        super().__init__(dropout=0.0)
        self.nan_at = set(nan_at)

    def forward(self, inputs: torch.Tensor, data_samples: Any = None, mode: str = 'tensor') -> Any:
        out = super().forward(inputs, data_samples, mode)
        if mode == 'loss':
            it = MessageHub.get_current_instance().get_info('iter') + 1
            out['loss_aux'] = out['loss'].detach() * 0 + 0.5
            if it in self.nan_at:
                out['loss'] = out['loss'] * float('nan')
        return out


def make_runner(
    work_dir: Path, nan_at: tuple, nonfinite: Optional[dict], iters: int = 6
) -> BlipRunner:
    loader = dict(
        dataset=dict(type='BlipToyDataset'),
        batch_size=4,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
        collate_fn=dict(type='default_collate'),
    )
    hooks = dict(
        logger=dict(type='LoggerHook', interval=100),
        checkpoint=dict(type='BlipCheckpointHook', interval=2, by_epoch=False),
    )
    if nonfinite is not None:
        hooks['nonfinite'] = nonfinite
    return BlipRunner(
        model=dict(type='NaNAtToyModel', nan_at=nan_at),
        work_dir=str(work_dir),
        experiment_name=f'nan-{uuid.uuid4().hex[:8]}',
        train_dataloader=loader,
        train_cfg=dict(by_epoch=False, max_iters=iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        default_hooks=hooks,
        randomness=dict(seed=0),
        default_scope='blip_plugin',
    )


def weights(runner: BlipRunner) -> dict:
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_nan_loss_stops_naming_iteration_terms_and_last_checkpoint(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, nan_at=(5,), nonfinite=dict(type='BlipNonFiniteHook'))
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert 'iteration 5' in msg
    assert 'loss=nan' in msg and 'loss_aux=0.5' in msg
    assert str(tmp_path / 'iter_4.pth') in msg
    # the bad step changed nothing and no checkpoint holds it
    assert all(torch.isfinite(v).all() for v in weights(runner).values())
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_2.pth', 'iter_4.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_4.pth')


def test_nan_before_any_checkpoint_says_so(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, nan_at=(1,), nonfinite=dict(type='BlipNonFiniteHook'))
    with pytest.raises(NonFiniteLossError, match='iteration 1 .*none yet'):
        runner.train()


def test_skip_drops_the_step_and_counts_it(tmp_path: Path) -> None:
    hook = dict(type='BlipNonFiniteHook', action='skip')
    runner = make_runner(tmp_path / 'skip', nan_at=(3,), nonfinite=hook)
    runner.train()
    assert runner.iter == 6
    assert runner.message_hub.get_info('train/nonfinite_skips') == 1
    final = weights(runner)
    assert all(torch.isfinite(v).all() for v in final.values())
    log = next((tmp_path / 'skip').rglob('*.log')).read_text()
    assert 'non-finite training loss at iteration 3' in log and 'step skipped (1/10)' in log


def test_skip_stops_after_max_skips(tmp_path: Path) -> None:
    hook = dict(type='BlipNonFiniteHook', action='skip', max_skips=1)
    runner = make_runner(tmp_path, nan_at=(2, 3), nonfinite=hook)
    with pytest.raises(NonFiniteLossError, match='iteration 3.*max_skips reached'):
        runner.train()


def test_without_the_hook_nan_poisons_the_weights(tmp_path: Path) -> None:
    # what the hook prevents: plain MMEngine steps on a NaN loss and trains on silently
    runner = make_runner(tmp_path, nan_at=(3,), nonfinite=None)
    runner.train()
    assert not all(torch.isfinite(v).all() for v in weights(runner).values())


def test_bad_action_is_named() -> None:
    with pytest.raises(ValueError, match="'stop' or 'skip', got 'ignore'"):
        BlipNonFiniteHook(action='ignore')


def test_default_runtime_enables_it() -> None:
    from mmengine.config import Config

    repo = Path(__file__).resolve().parents[2]
    cfg = Config.fromfile(repo / 'configs/_base_/default_runtime.py')
    assert cfg.default_hooks.nonfinite.type == 'BlipNonFiniteHook'
    assert cfg.default_hooks.nonfinite.action == 'stop'
