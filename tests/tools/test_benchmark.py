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
            '--sdpa',
            'math',  # both sides on one attention kernel (a GPU run picks flash this way)
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
            '40',
            '--vqa-k',
            '4',
            '--retrieval-images',
            '3',
            '--retrieval-k',
            '2',
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
        'VQA rank 6 answers, k=4',
        'VQA rank 40 answers, k=4',
        'caption train step',
        'retrieval eval 3 img x 15 txt, k=2',
        'pretrain step (ITC+ITM+LM)',
    ):
        assert f'| {name}' in text
    assert 'same top-k pairs' in text
    # every workload's FLOPs were counted: a number in the FLOP column of each row
    rows = [line for line in text.splitlines() if line.startswith('| ') and 'workload' not in line]
    assert len(rows) == 9 and all('GFLOP' not in r and '(' in r.split('|')[9] for r in rows)
    assert 'ids identical' in text and 'DIFFER' not in text
    assert 'fp32, SDPA math' in text
    assert plot.stat().st_size > 0


def test_gpu_only_attention_kernels_are_refused_on_the_cpu(capsys):
    cli = _load_cli()
    with pytest.raises(SystemExit):
        cli.parse_args(['--sdpa', 'efficient'])
    assert 'no CPU kernel' in capsys.readouterr().err
    args = cli.parse_args(['--device', 'cuda', '--amp', 'bf16', '--sdpa', 'flash', '--compile'])
    assert cli.precision(args) == 'bf16, SDPA flash, torch.compile (caption ViTs)'
    assert cli.precision(cli.parse_args(['--no-onednn'])) == 'fp32, ours without oneDNN linear'


def test_vit_flops_counts_a_known_case():
    sys.path.insert(0, str(BENCH))
    from bench_timing import vit_flops

    # one block, 2x2 patches of 1 px -> 4 patch tokens + [CLS]
    d, m, t = 8, 16, 5
    expected = 2 * 4 * 3 * d + t * (8 * d * d + 4 * d * m) + 4 * t * t * d
    assert vit_flops(d, 1, m, image=2, patch=1, batch=3) == 3 * expected


def test_count_flops_counts_cpu_attention_and_backward():
    sys.path.insert(0, str(BENCH))
    from bench_timing import count_flops

    q = torch.randn(2, 3, 5, 4, requires_grad=True)
    attn = 4 * 2 * 3 * 5 * 5 * 4  # QK^T and AV, 2 per multiply-add
    sdpa = torch.nn.functional.scaled_dot_product_attention
    assert count_flops(lambda: sdpa(q, q, q)) == attn
    # backward: 2.5x the forward's matmuls (torch's sdpa_backward_flop_count)
    assert count_flops(lambda: sdpa(q, q, q).sum().backward()) == attn + 5 * attn // 2


def test_count_flops_counts_our_linear_on_both_paths():
    """The oneDNN inner product (no grad) counts as the aten matmul it replaces."""
    sys.path.insert(0, str(BENCH))
    from bench_timing import count_flops

    from blip_plugin.models.linear import Linear

    layer, x = Linear(32, 48), torch.randn(2, 5, 32)
    with torch.no_grad():
        assert count_flops(lambda: layer(x, gelu=True)) == 2 * 10 * 32 * 48
    assert count_flops(lambda: layer(x)) == 2 * 10 * 32 * 48


def test_append_keeps_earlier_runs_and_notes(tmp_path):
    cli = _load_cli()
    doc = tmp_path / 'bench.md'
    doc.write_text(f'{cli.TITLE}\n\n## run A\n\n| a |\n\n{cli.NOTES}\n\nhand-written\n')
    cli.write_doc(doc, '## run B\n\n| b |\n', append=True)
    text = doc.read_text()
    assert text.index('## run A') < text.index('## run B') < text.index('hand-written')
    assert text.count(cli.TITLE) == 1
    cli.write_doc(doc, '## run C\n', append=False)
    text = doc.read_text()
    assert '## run A' not in text and '## run C' in text and 'hand-written' in text
