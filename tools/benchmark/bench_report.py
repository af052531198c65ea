"""The markdown table and the bar plot of a benchmark run."""

from pathlib import Path
from typing import Optional

__all__ = ['TITLE', 'markdown', 'bar_plot']


def _f(x: Optional[float], fmt: str) -> str:
    return '-' if x is None else format(x, fmt)


TITLE = '# Benchmarks: blip-plugin vs transformers BLIP'


def markdown(
    rows: list,
    header: dict,
    vit_time: dict,
    matmul: dict,
    gbps: float,
    step_bytes: int,
    step_read_gbps: float = 0.0,
) -> str:
    """One run's section: its context (machine, load, matmul throughput), table and notes."""
    title = ', '.join(str(header[k]) for k in ('config', 'batches', 'device', 'precision'))
    lines = [f'## {title}', '']
    lines += [f'- {k}: {v}' for k, v in header.items()]
    peak = max(matmul.values())
    lines += [
        '- measured fp32 matmul throughput (2048^3 unless --quick, best of 10 at the start '
        'and 10 at the end): '
        + ', '.join(f'{k} {v:.1f}' for k, v in matmul.items())
        + ' GFLOP/s; the largest is the 100% of the table',
        f'- measured memory bandwidth: {gbps:.1f} GB/s (tensor copy, read + write)',
    ]
    if step_bytes:
        floor = 1e3 * step_bytes / 1e9 / step_read_gbps
        lines += [
            f'- decoder weights read per decoding step (cross-attention K/V excluded): '
            f'{step_bytes / 1e6:.0f} MB; summing each of those tensors once runs at '
            f'{step_read_gbps:.1f} GB/s, so >= {floor:.0f} ms per step'
        ]
    lines += ['']
    lines += [
        '| workload | batch | ours (s) | transformers (s) | speedup (x) | ours items/s | '
        'ours peak MiB | transformers peak MiB | GFLOP per call, GFLOP/s (% of matmul) | '
        'x our ViT time | agreement |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ]
    for r in rows:
        share = '-'
        if r['gflops']:
            share = f'{r["flops"] / 1e9:.3g}, {r["gflops"]:.1f} ({100 * r["gflops"] / peak:.0f}%)'
        vit = vit_time.get(r['batch']) if r['workload'].startswith('caption ') else None
        vs_vit = _f(r['ours_s'] / vit if vit and 'train' not in r['workload'] else None, '.2f')
        lines.append(
            f'| {r["workload"]} | {r["batch"]} | {r["ours_s"]:.3f} | {_f(r["hf_s"], ".3f")} | '
            f'{_f(r["speedup"], ".2f")} | {r["items_per_s"]:.2f} | {r["ours_mb"]:.0f} | '
            f'{_f(r["hf_mb"], ".0f")} | {share} | {vs_vit} | {r["agree"]} |'
        )
    lines += [
        '',
        'Times are medians of interleaved repeats (ours and transformers alternate, '
        'after warm-up), pixels to outputs. Speedup = transformers / ours. Peak memory: '
        'resident-set growth during one call sampled every ms on the CPU, '
        '`torch.cuda.max_memory_allocated` on a GPU. FLOPs are counted on one call of ours '
        'with `torch.utils.flop_counter.FlopCounterMode` (2 per multiply-add of every matmul, '
        'convolution and attention, backward included, causal attention counted as full; '
        'elementwise ops, softmax and LayerNorm left out; the ViT count is checked against '
        'the analytic formula), GFLOP/s = counted FLOPs / median time. '
        '"x our ViT time" = caption time / our ViT forward time of the same batch.',
        '',
    ]
    return '\n'.join(lines)


def bar_plot(rows: list, path: Path, title: str) -> None:
    """Grouped bars: ours vs transformers seconds per workload (log scale)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    labels = [f'{r["workload"]}\nB={r["batch"]}' for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4.5))
    ax.bar([i - 0.2 for i in x], [r['ours_s'] for r in rows], 0.4, label='blip-plugin')
    ax.bar([i + 0.2 for i in x], [r['hf_s'] or 0 for r in rows], 0.4, label='transformers')
    for i, r in zip(x, rows):
        if r['speedup']:
            ax.text(
                i,
                max(r['ours_s'], r['hf_s']),
                f'{r["speedup"]:.1f}x',
                ha='center',
                va='bottom',
                fontsize=8,
            )
    ax.set_xticks(list(x), labels, fontsize=7, rotation=30, ha='right')
    ax.set_yscale('log')
    ax.set_ylabel('seconds (median)')
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
