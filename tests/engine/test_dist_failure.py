"""A 2-process gloo run where rank 1 dies (or hangs) after iteration 2: rank 0 exits non-zero
in bounded time, on its own (no launcher watching: a dead peer is seen at once, a hung one
after ``env_cfg.dist_cfg.timeout``) and under torchrun."""

import os
import os.path as osp
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PLUGINS = osp.join(REPO, 'tests', 'tools')

CONFIG = """
default_scope = 'blip_plugin'
custom_imports = dict(imports=['blip_plugin', 'blip_toy_plugin', 'blip_fault_plugin'])
runner_type = 'BlipRunner'
model = dict(type='BlipToyModel', dropout=0.0)
train_dataloader = dict(
    dataset=dict(type='BlipToyDataset', size=64),
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
)
train_cfg = dict(by_epoch=False, max_iters={iters})
log_processor = dict(by_epoch=False)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='BlipCheckpointHook', interval={interval}, by_epoch=False),
)
custom_hooks = [dict(type='BlipExitAtIterHook', rank=1, at={at}, hang={hang}, first_attempt_only=True)]
# a dead peer is detected by gloo at once; the timeout bounds any collective that waits
env_cfg = dict(dist_cfg=dict(backend='gloo', timeout={timeout}))
randomness = dict(seed=0)
"""

LIMIT_S = 60  # rank 0 must be gone this long after rank 1 died (imports included)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _setup(
    tmp_path: Path,
    hang: bool = False,
    timeout: int = 20,
    iters: int = 200,
    interval: int = 1000,
    at: int = 2,
) -> tuple:
    cfg = tmp_path / 'dist_toy.py'
    cfg.write_text(CONFIG.format(hang=hang, timeout=timeout, iters=iters, interval=interval, at=at))
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join([REPO, PLUGINS]))
    train = [osp.join(REPO, 'tools/train.py'), str(cfg), '--launcher', 'pytorch']
    return train, env


def _two_ranks(tmp_path: Path, hang: bool, timeout: int) -> tuple:
    """Start rank 0 and rank 1 without a launcher; return (rank 0 rc, its log, seconds it
    outlived the moment rank 1 failed)."""
    train, env = _setup(tmp_path, hang, timeout)
    port = _free_port()
    procs = []
    for rank in (0, 1):
        rank_env = dict(
            env,
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE='2',
            LOCAL_WORLD_SIZE='2',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(port),
        )
        log = open(tmp_path / f'rank{rank}.log', 'w')
        procs.append(
            subprocess.Popen(
                [sys.executable, *train, '--work-dir', str(tmp_path / 'work')],
                env=rank_env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    rank0, rank1 = procs
    log1 = tmp_path / 'rank1.log'
    try:
        if hang:  # rank 0 logs its iterations; wait until it trained the 2nd with its peer
            deadline = time.monotonic() + 240
            while 'Iter(train) [  2/200]' not in (tmp_path / 'rank0.log').read_text():
                assert rank0.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        else:
            assert rank1.wait(timeout=240) == 3, log1.read_text()[-3000:]
        failed = time.monotonic()
        rc = rank0.wait(timeout=LIMIT_S)
        waited = time.monotonic() - failed
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return rc, (tmp_path / 'rank0.log').read_text(), waited


def test_survivor_exits_on_its_own_when_a_peer_dies(tmp_path: Path) -> None:
    rc, log0, waited = _two_ranks(tmp_path, hang=False, timeout=20)
    assert rc != 0, log0[-3000:]
    assert waited < LIMIT_S
    # it trained 2 iterations with its peer, then failed in the 3rd's gradient all-reduce
    assert 'Iter(train) [  2/200]' in log0
    assert 'Iter(train) [  3/200]' not in log0
    assert 'Connection reset by peer' in log0 or 'Connection closed by peer' in log0


@pytest.mark.slow  # ~25 s on a busy CPU; the dead-peer test is its fast version
def test_survivor_exits_after_the_timeout_when_a_peer_hangs(tmp_path: Path) -> None:
    rc, log0, waited = _two_ranks(tmp_path, hang=True, timeout=5)
    assert rc != 0, log0[-3000:]
    assert waited < LIMIT_S
    assert 'Iter(train) [  3/200]' not in log0
    assert 'imed out' in log0 or 'Timeout' in log0, log0[-3000:]


def _torchrun(train: list, work_dir: Path, max_restarts: int, *extra: str) -> list:
    return [
        sys.executable,
        '-m',
        'torch.distributed.run',
        '--nproc_per_node',
        '2',
        '--max-restarts',
        str(max_restarts),
        '--master_port',
        str(_free_port()),
        *train,
        '--work-dir',
        str(work_dir),
        *extra,
    ]


def test_torchrun_stops_the_job_when_a_worker_dies(tmp_path: Path) -> None:
    train, env = _setup(tmp_path)
    cmd = _torchrun(train, tmp_path / 'work', 0)
    start = time.monotonic()
    out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert out.returncode != 0
    assert time.monotonic() - start < 240
    assert 'exitcode  : 3' in out.stderr or 'exitcode: 3' in out.stderr, out.stderr[-3000:]


@pytest.mark.slow  # two torchrun jobs, one restarted: ~60 s on a busy CPU
def test_torchrun_restart_with_resume_finishes_like_an_uninterrupted_job(tmp_path: Path) -> None:
    # rank 1 dies after iteration 6 in the first attempt; iter_4.pth exists; torchrun restarts
    # both workers, which resume from it (--resume) and finish the 12 iterations
    train, env = _setup(tmp_path, iters=12, interval=4, at=6)
    cut = subprocess.run(
        _torchrun(train, tmp_path / 'cut', 1, '--resume'),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cut.returncode == 0, cut.stderr[-3000:]
    assert 'Auto resumed from the latest checkpoint' in cut.stdout + cut.stderr
    train, env = _setup(tmp_path, iters=12, interval=4, at=1000)
    straight = subprocess.run(
        _torchrun(train, tmp_path / 'straight', 0),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert straight.returncode == 0, straight.stderr[-3000:]
    a = torch.load(tmp_path / 'cut' / 'iter_12.pth', weights_only=True)['state_dict']
    b = torch.load(tmp_path / 'straight' / 'iter_12.pth', weights_only=True)['state_dict']
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
