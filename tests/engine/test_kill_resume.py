"""SIGKILL a real training process at an arbitrary moment; ``--resume`` ends bitwise equal.

A tiny BlipRetrieval (momentum encoders (``*_m``), ITC queues, ``idx_queue`` and ``ptr_queue`` are
all in its state dict) trains through ``tools/train.py`` on the shapes world, iteration-based
with a checkpoint every 2 iterations and an epoch boundary inside the run. One run goes
straight through; the other is killed with SIGKILL as soon as a chosen checkpoint appears
(so the kill lands in whatever the process was doing next: a forward pass, a backward pass,
or the write of the following checkpoint), then resumed with ``--resume``.
"""

import os
import os.path as osp
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from blip_plugin.datasets.shapes_world import make_shapes_world

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RETRIEVAL = osp.join(REPO, 'configs/toy/blip-tiny_1xb32_shapes-retrieval.py')

CONFIG = """
_base_ = [{base!r}]
load_from = None
model = dict(tokenizer=dict(name_or_path={tok!r}), queue_size=16, k_test=4)
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r})
)
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={iters})
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=4)]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=2, by_epoch=False, max_keep_ckpts=-1),
)
"""


def write_config(tmp: Path, iters: int) -> str:
    root = str(tmp / 'world')
    if not osp.isdir(root):
        # 3 images x 5 captions = 15 pairs: 3 batches of 4 per epoch (drop_last)
        make_shapes_world(root, num_train=3, num_val=2, num_test=2, image_size=32)
    path = tmp / f'retrieval_{iters}.py'
    path.write_text(
        CONFIG.format(base=RETRIEVAL, tok=osp.join(root, 'tokenizer'), root=root, iters=iters)
    )
    return str(path)


def train_cmd(cfg: str, work_dir: Path, *extra: str) -> list:
    return [
        sys.executable,
        osp.join(REPO, 'tools/train.py'),
        cfg,
        '--work-dir',
        str(work_dir),
        *extra,
    ]


ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)


def run(cmd: list) -> None:
    out = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def kill_after(cmd: list, work_dir: Path, ckpt: str, timeout: float = 240) -> None:
    """Start ``cmd``; SIGKILL it as soon as ``work_dir/ckpt`` exists."""
    proc = subprocess.Popen(
        cmd, env=ENV, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    try:
        while not (work_dir / ckpt).exists():
            assert proc.poll() is None, f'training ended (rc {proc.returncode}) before {ckpt}'
            assert time.monotonic() < deadline, f'no {ckpt} after {timeout} s'
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def final_state(work_dir: Path, iters: int) -> dict:
    return torch.load(work_dir / f'iter_{iters}.pth', map_location='cpu', weights_only=True)


def assert_bitwise_equal(a: dict, b: dict) -> None:
    sa, sb = a['state_dict'], b['state_dict']
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert a['meta']['iter'] == b['meta']['iter']
    assert a['meta']['epoch'] == b['meta']['epoch']


def kill_and_resume(tmp_path: Path, iters: int, kill_at: list) -> None:
    cfg = write_config(tmp_path, iters)
    straight, cut = tmp_path / 'straight', tmp_path / 'cut'
    run(train_cmd(cfg, straight))
    for at in kill_at:
        resume = ['--resume'] if (cut / 'last_checkpoint').exists() else []
        kill_after(train_cmd(cfg, cut, *resume), cut, f'iter_{at}.pth')
        # whatever the kill interrupted (a step, the next write, or the repointing of
        # last_checkpoint after a write), the newest checkpoint is whole and loads
        newest = max(cut.glob('iter_*.pth'), key=os.path.getmtime)
        assert torch.load(newest, map_location='cpu', weights_only=True)['meta']['iter'] >= at
    run(train_cmd(cfg, cut, '--resume'))
    assert not list(cut.glob('.*.tmp'))  # a write the kill interrupted was cleared on resume
    a, b = final_state(straight, iters), final_state(cut, iters)
    # momentum encoders, ITC queues, idx_queue and ptr_queue are buffers/params in state_dict
    keys = a['state_dict'].keys()
    assert {'image_queue', 'text_queue', 'idx_queue', 'ptr_queue'} <= keys
    assert any(k.startswith('vision_encoder_m.') for k in keys)
    # the straight run really moved the queue (the comparison is not between two zeros)
    assert int(a['state_dict']['ptr_queue']) == iters * 4 % 16
    assert_bitwise_equal(a, b)


def test_sigkill_then_resume_is_bitwise_identical(tmp_path: Path) -> None:
    # 6 iterations over a 3-batch epoch: killed once iter_2 exists, resumed across the boundary
    kill_and_resume(tmp_path, iters=6, kill_at=[2])


@pytest.mark.slow
def test_repeated_sigkills_then_resume_is_bitwise_identical(tmp_path: Path) -> None:
    kill_and_resume(tmp_path, iters=12, kill_at=[2, 6, 8])
