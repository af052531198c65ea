"""tools/capfilt.py end to end: one process (with loader workers) and a 2-process gloo
torchrun write the same shards and output; --merge-only re-thresholds; --truth scores."""

import importlib.util
import json
import os
import socket
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'capfilt.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('capfilt_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(path: str) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_one_process_equals_two_process_gloo(world, tmp_path):
    tool = load_tool()
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    args = ['--web-ann', world.web, '--human-ann', world.human]
    summary = tool.main(
        [world.config, '--out', one, *args, '--cfg-options', 'capfilt.num_workers=2']
    )
    assert summary['web_texts']['total'] == 13 and summary['human']['pairs'] == 2

    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port', str(free_port()), TOOL, world.config, '--out', two, *args,
        '--launcher', 'pytorch',
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'rank 0/2: 2 shards, 0 already done' in read(os.path.join(two, 'capfilt.log'))
    names = sorted(os.listdir(os.path.join(one, 'shards')))
    assert names == sorted(os.listdir(os.path.join(two, 'shards'))) and len(names) == 4
    for name in names:
        assert read(os.path.join(one, 'shards', name)) == read(os.path.join(two, 'shards', name))
    assert read(os.path.join(one, 'bootstrapped.json')) == read(
        os.path.join(two, 'bootstrapped.json')
    )
    summary_two = json.loads(read(os.path.join(two, 'summary.json')))
    assert summary_two['this_run']['world_size'] == 2 and summary_two['this_run']['images'] == 13

    # re-threshold without captioning again; the truth file scores the filter
    summary = tool.main(
        [world.config, '--out', one, '--web-ann', world.web, '--merge-only', '--truth', world.truth,
         '--cfg-options', 'capfilt.threshold=0.0']
    )  # fmt: skip
    assert summary['web_texts']['kept'] == 13 and summary['output_pairs'] == 13 * 3
    assert summary['noise_removal']['recall'] == 0.0  # nothing removed
    assert json.loads(read(os.path.join(one, 'summary.json')))['threshold'] == 0.0
