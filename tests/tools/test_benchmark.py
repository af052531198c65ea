"""The benchmark's code path on the tiny config: every workload runs, ours and transformers
agree (the workloads raise otherwise), and the report files are written. Nothing is timed
against a threshold."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / 'tools' / 'benchmark'


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _load_cli():
    spec = importlib.util.spec_from_file_location('blip_benchmark_cli', BENCH / 'benchmark_blip.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # puts tools/benchmark on sys.path for its helpers
    return module


@pytest.mark.usefixtures('one_thread')
def test_quick_benchmark_agrees_and_reports(tmp_path):
    cli = _load_cli()
    out, plot = tmp_path / 'bench.md', tmp_path / 'bench.png'
    cli.main(
        [
            '--quick',
            '--batches',
            '2',
            '--repeats',
            '1',
            '--warmup',
            '0',
            '--itm-k',
            '3',
            '--vqa-answers',
            '6',
            '--out',
            str(out),
            '--plot',
            str(plot),
        ]
    )
    text = out.read_text()
    for name in (
        'ViT forward',
        'caption beam 3',
        'caption nucleus',
        'ITM re-rank k=3',
        'VQA rank 6 answers',
        'caption train step',
    ):
        assert f'| {name}' in text
    assert 'ids identical' in text and 'DIFFER' not in text
    assert plot.stat().st_size > 0


def test_vit_flops_counts_a_known_case():
    sys.path.insert(0, str(BENCH))
    from bench_timing import vit_flops

    # one block, 2x2 patches of 1 px -> 4 patch tokens + [CLS]
    d, m, t = 8, 16, 5
    expected = 2 * 4 * 3 * d + t * (8 * d * d + 4 * d * m) + 4 * t * t * d
    assert vit_flops(d, 1, m, image=2, patch=1, batch=3) == 3 * expected
