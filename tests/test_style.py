"""The house stays legible: ruff's lint and format checks pass on the whole tree."""

import os.path as osp
import shutil
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.mark.parametrize('args', [['check', '.'], ['format', '--check', '.']])
def test_ruff(args: list) -> None:
    ruff = shutil.which('ruff')
    if ruff is None:
        pytest.skip('ruff is not installed (pip install -e ".[tests]")')
    out = subprocess.run([ruff, *args], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
