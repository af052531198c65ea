"""tools/train.py and tools/test.py end to end on a toy config, in subprocesses.

The subprocesses see a ``pkg_resources`` that fails to import (as with setuptools >= 82), so
these tests also prove the tools stay off MMEngine's pkg_resources paths.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
TOY_DIR = Path(__file__).resolve().parent

CONFIG = """
_base_ = [{runtime!r}]
custom_imports = dict(imports=['blip_plugin', 'blip_toy_plugin'], allow_failed_imports=False)
model = dict(type='BlipToyModel')
train_dataloader = dict(
    dataset=dict(type='BlipToyDataset'), batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True), collate_fn=dict(type='default_collate'))
val_dataloader = dict(
    dataset=dict(type='BlipToyDataset'), batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='BlipToyMetric')
test_evaluator = val_evaluator
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
param_scheduler = dict(type='MultiStepLR', milestones=[1], by_epoch=True)
auto_scale_lr = dict(base_batch_size=4, enable=False)
custom_hooks = [dict(type='BlipToyModulesHook')]
default_hooks = dict(logger=dict(interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
"""


@pytest.fixture(scope='module')
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp('tools')
    cfg = root / 'toy_1xb4_tools.py'
    cfg.write_text(CONFIG.format(runtime=str(REPO / 'configs/_base_/default_runtime.py')))
    stub = root / 'stub'
    stub.mkdir()
    (stub / 'pkg_resources.py').write_text(
        'raise ModuleNotFoundError("No module named \'pkg_resources\'")\n'
    )
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(stub), str(REPO), str(TOY_DIR), env.get('PYTHONPATH', '')]
    )
    env['OMP_NUM_THREADS'] = '1'
    return dict(root=root, cfg=str(cfg), env=env)


def run(
    args: list, setup: dict, timeout: int = 120, env: Optional[dict] = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**setup['env'], **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def no_mmpretrain_models(work_dir: Path) -> None:
    modules = json.loads((work_dir / 'modules.json').read_text())
    assert 'mmpretrain.registry' in modules
    assert not [m for m in modules if m.startswith(('mmpretrain.models', 'mmpretrain.engine'))]


def test_train_resume_then_test(setup: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    wd = setup['root'] / 'work'
    run(['tools/train.py', setup['cfg'], '--work-dir', str(wd)], setup)
    ckpt = torch.load(wd / 'epoch_2.pth', weights_only=True)
    assert ckpt['meta']['epoch'] == 2
    no_mmpretrain_models(wd)

    proc = run(
        [
            'tools/train.py',
            setup['cfg'],
            '--work-dir',
            str(wd),
            '--resume',
            '--cfg-options',
            'train_cfg.max_epochs=3',
        ],
        setup,
    )
    assert 'resumed epoch: 2' in proc.stdout + proc.stderr
    assert torch.load(wd / 'epoch_3.pth', weights_only=True)['meta']['epoch'] == 3

    # tools/test.py in this process (one interpreter start less)
    monkeypatch.syspath_prepend(str(TOY_DIR))
    out = setup['root'] / 'preds.pkl'
    metrics = _load_tool('test.py').main(
        [
            setup['cfg'],
            str(wd / 'epoch_3.pth'),
            '--work-dir',
            str(setup['root'] / 'test'),
            '--out',
            str(out),
        ]
    )
    assert metrics['mse'] >= 0
    assert out.is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_gloo_run(setup: dict) -> None:
    wd = setup['root'] / 'dist'
    run(
        [
            '-m',
            'torch.distributed.run',
            '--nproc_per_node',
            '2',
            '--master_port',
            str(_free_port()),
            'tools/train.py',
            setup['cfg'],
            '--work-dir',
            str(wd),
            '--launcher',
            'pytorch',
        ],
        setup,
        timeout=180,
        env={'CUDA_VISIBLE_DEVICES': ''},  # a CPU run with gloo, also on a one-GPU machine
    )
    ckpt = torch.load(wd / 'epoch_2.pth', weights_only=True)
    assert ckpt['meta']['world_size'] == 2
    no_mmpretrain_models(wd)


def _load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f'blip_tools_{name}', REPO / 'tools' / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cfg_options_typo_names_the_key(
    setup: dict, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(TOY_DIR))
    train = _load_tool('train.py')
    with pytest.raises(SystemExit) as exc:
        train.main(
            [
                setup['cfg'],
                '--work-dir',
                str(setup['root'] / 'typo'),
                '--cfg-options',
                'train_cfg.max_epoch=3',
            ]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'train_cfg' has no key 'max_epoch'" in err
    assert "'train_cfg.max_epochs'" in err
    # --cfg-new adds a key on purpose; existing keys merge as usual
    cfg = train.merge_args(
        train.Config.fromfile(setup['cfg']),
        train.parse_args(
            [
                setup['cfg'],
                '--cfg-options',
                'train_cfg.max_epochs=5',
                'optim_wrapper.optimizer.lr=0.5',
                '--cfg-new',
                'model.extra=1',
            ]
        ),
    )
    assert (cfg.train_cfg.max_epochs, cfg.optim_wrapper.optimizer.lr) == (5, 0.5)
    assert cfg.model.extra == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason='the refusal is for CPU-only machines')
def test_amp_on_cpu_is_refused(setup: dict, capsys: pytest.CaptureFixture) -> None:
    train = _load_tool('train.py')
    with pytest.raises(SystemExit):
        train.main([setup['cfg'], '--amp'])
    assert '--amp needs a CUDA device' in capsys.readouterr().err
