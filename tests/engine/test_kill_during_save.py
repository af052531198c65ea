"""SIGKILL a process in the middle of writing a checkpoint: the previous file at that path
stays whole and loadable, and a resume clears the partial temp file it left."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from mmengine.hooks import Hook

from blip_plugin.engine import atomic_save

from .test_runner import make_runner

# ~100k small tensors: torch.save takes seconds, so the kill lands mid-write
WRITER = """
import sys, torch
from blip_plugin.engine.checkpoint import atomic_save
state = {f'w{i}': torch.full((8,), float(i)) for i in range(100_000)}
atomic_save({'meta': {'epoch': 2}, 'state_dict': state}, sys.argv[1])
"""


def test_sigkill_mid_write_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / 'epoch_1.pth'
    old = {'meta': {'epoch': 1}, 'state_dict': {'w': torch.arange(5.0)}}
    atomic_save(old, str(path))
    proc = subprocess.Popen(
        [sys.executable, '-c', WRITER, str(path)], env=dict(os.environ, OMP_NUM_THREADS='1')
    )
    deadline = time.monotonic() + 120
    try:
        while True:  # wait until the temp file has bytes in it, then kill
            tmps = list(tmp_path.glob('.epoch_1.pth.*.tmp'))
            if tmps and tmps[0].stat().st_size > 0:
                break
            assert proc.poll() is None, 'the writer finished before it could be killed'
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = list(tmp_path.glob('.epoch_1.pth.*.tmp'))
    assert len(partial) == 1  # the interrupted write, beside the target ...
    loaded = torch.load(path, weights_only=True)  # ... which is still the old, whole file
    assert loaded['meta'] == {'epoch': 1}
    assert torch.equal(loaded['state_dict']['w'], old['state_dict']['w'])


def test_resume_removes_the_partial_temp_file(tmp_path: Path) -> None:
    make_runner(tmp_path, length=1).train()
    stale = tmp_path / '.epoch_2.pth.abc123.tmp'
    stale.write_bytes(b'PK\x03\x04 half a checkpoint')
    stale_pointer = tmp_path / '.last_checkpoint.def456.tmp'
    stale_pointer.write_text(str(tmp_path)[:5])
    resumed = make_runner(tmp_path, length=2, resume=True)
    resumed.train()
    assert resumed.epoch == 2
    assert not stale.exists() and not stale_pointer.exists()
    assert torch.load(tmp_path / 'epoch_2.pth', weights_only=True)['meta']['epoch'] == 2


class _EpochAtStart(Hook):
    def before_train(self, runner) -> None:  # noqa: ANN001
        self.epoch = runner.epoch


def test_resume_finds_a_checkpoint_written_before_the_pointer_moved(tmp_path: Path) -> None:
    # a kill between writing epoch_2.pth and repointing last_checkpoint leaves it unnamed
    make_runner(tmp_path, length=2).train()
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    os.utime(tmp_path / 'epoch_1.pth', (1, 1))
    start = _EpochAtStart()
    resumed = make_runner(tmp_path, length=3, resume=True, hooks=[start])
    resumed.train()
    assert start.epoch == 2 and resumed.epoch == 3
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'epoch_3.pth')
