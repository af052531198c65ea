"""Benchmark blip-plugin against transformers' BLIP, side by side in one process.

Both get the same random weights (converted with ``convert_state_dict``); every workload
checks that the outputs agree before it reports a time.

    python tools/benchmark/benchmark_blip.py                  # BLIP-base, 384 px, CPU fp32
    python tools/benchmark/benchmark_blip.py --quick          # tiny config, smoke test
    python tools/benchmark/benchmark_blip.py --device cuda --amp bf16 --batches 1 4 16
"""

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_workloads as W  # noqa: E402
from bench_pairs import blip_config, caption_pair, retrieval_pair, vqa_model, write_vocab  # noqa: E402
from bench_report import bar_plot, markdown  # noqa: E402
from bench_timing import load_average, matmul_gflops, memory_gbps  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTES = '<!-- notes: kept when the table is regenerated -->'
WORKLOADS = ('vit', 'caption', 'sample', 'itm', 'vqa', 'train')


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--size', choices=['base', 'large'], default='base')
    p.add_argument('--quick', action='store_true', help='tiny config (smoke test)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--amp', choices=['bf16', 'fp16'], default=None)
    p.add_argument('--batches', type=int, nargs='+', default=[1, 4])
    p.add_argument('--only', nargs='+', choices=WORKLOADS, default=list(WORKLOADS))
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--itm-k', type=int, default=8, help='texts re-ranked for one image')
    p.add_argument('--vqa-answers', type=int, default=128)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--out', type=Path, default=REPO / 'docs' / 'benchmarks.md')
    p.add_argument('--plot', type=Path, default=REPO / 'docs' / 'benchmarks.png')
    return p.parse_args(argv)


def run(args: argparse.Namespace, log=print) -> W.Bench:
    """Run the chosen workloads; returns the Bench with its rows (agreement checked)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    size = 'tiny' if args.quick else args.size
    cfg = blip_config(size)
    bench = W.Bench(cfg, args.device, args.amp, args.repeats, args.warmup)
    with tempfile.TemporaryDirectory() as tmp:
        vocab = write_vocab(cfg, Path(tmp))
        want = set(args.only)
        if want & {'vit', 'caption', 'sample', 'train'}:
            hf, ours = (m.to(args.device) for m in caption_pair(cfg, vocab))
            for batch in args.batches:
                if 'vit' in want or 'caption' in want:
                    log(W.vit_forward(bench, hf, ours, batch))
                if 'caption' in want:
                    log(W.caption(bench, hf, ours, batch, 'beam'))
                if 'sample' in want:
                    log(W.caption(bench, hf, ours, batch, 'sample'))
            if 'train' in want:
                log(W.train_step(bench, hf, ours, min(args.batches)))
            del hf, ours
        if 'itm' in want:
            hf, ours = (m.to(args.device) for m in retrieval_pair(cfg, vocab))
            log(W.retrieval_itm(bench, hf, ours, args.itm_k))
            del hf, ours
        if 'vqa' in want:
            vqa = vqa_model(cfg, vocab).to(args.device)
            log(
                W.vqa_rank(
                    bench, vqa, min(args.batches), args.vqa_answers, k=min(128, args.vqa_answers)
                )
            )
    return bench


def main(argv: Optional[list] = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = load_average()
    t0 = time.time()
    probe = dict(n=512, repeats=2) if args.quick else {}  # --quick: seconds, not a measure
    matmul = matmul_gflops(device=args.device, **probe)
    gbps = memory_gbps(mib=32 if args.quick else 512, device=args.device)
    bench = run(args)
    header = {
        'config': 'tiny (--quick)' if args.quick else f'BLIP-{args.size}, 384 px',
        'device': args.device
        if args.device != 'cpu'
        else f'CPU, {torch.get_num_threads()} '
        f'threads ({platform.processor() or platform.machine()})',
        'precision': args.amp or 'fp32',
        'torch / transformers': f'{torch.__version__} / {__import__("transformers").__version__}',
        'repeats (median) / warm-up': f'{args.repeats} / {args.warmup}',
        'load average (1/5/15 min) before / after': f'{load_before} ; {load_average()}',
        'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0)),
    }
    text = markdown(bench.rows, header, bench.vit_time, matmul, gbps, bench.step_bytes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists() and NOTES in args.out.read_text():  # hand-written analysis stays
        text += '\n' + NOTES + args.out.read_text().split(NOTES, 1)[1]
    args.out.write_text(text)
    bar_plot(
        bench.rows, args.plot, f'{header["config"]}, {header["device"]}, {header["precision"]}'
    )
    print(text)


if __name__ == '__main__':
    main()
