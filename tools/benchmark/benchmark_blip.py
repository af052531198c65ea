"""Benchmark blip-plugin against transformers' BLIP, side by side in one process.

Both get the same random weights (converted with ``convert_state_dict``); every workload
checks that the outputs agree before it reports a time.

    python tools/benchmark/benchmark_blip.py                  # BLIP-base, 384 px, CPU fp32
    python tools/benchmark/benchmark_blip.py --quick          # tiny config, smoke test
    python tools/benchmark/benchmark_blip.py --size large --only vit caption --append
    python tools/benchmark/benchmark_blip.py --device cuda --amp bf16 --batches 1 4 16
    python tools/benchmark/benchmark_blip.py --device cuda --amp bf16 --sdpa flash --compile
"""

import argparse
import contextlib
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import torch

from blip_plugin.models.linear import packed_weight_bytes, set_onednn_linear

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_tasks as T  # noqa: E402
import bench_workloads as W  # noqa: E402
from bench_pairs import (  # noqa: E402
    blip_config,
    caption_pair,
    pretrain_model,
    retrieval_pair,
    vqa_model,
    write_vocab,
)
from bench_report import TITLE, bar_plot, markdown  # noqa: E402
from bench_timing import load_average, matmul_gflops, memory_gbps  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTES = '<!-- notes: kept when the table is regenerated -->'
SDPA = {
    'default': None,
    'math': 'MATH',
    'flash': 'FLASH_ATTENTION',
    'efficient': 'EFFICIENT_ATTENTION',
    'cudnn': 'CUDNN_ATTENTION',
}
WORKLOADS = ('vit', 'caption', 'sample', 'itm', 'retrieval', 'vqa', 'train', 'pretrain')


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--size', choices=['base', 'large'], default='base')
    p.add_argument('--quick', action='store_true', help='tiny config (smoke test)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--amp', choices=['bf16', 'fp16'], default=None)
    p.add_argument(
        '--sdpa',
        choices=list(SDPA),
        default='default',
        help="attention kernel of both sides (torch's sdpa_kernel); default lets torch pick",
    )
    p.add_argument(
        '--compile',
        action='store_true',
        help="torch.compile the caption models' ViTs, both sides (ViT, caption and train "
        'rows; FLOPs are then not counted, the ViT row by formula)',
    )
    p.add_argument(
        '--no-onednn',
        action='store_true',
        help="our linear layers call torch's F.linear (MKL on the CPU) instead of oneDNN",
    )
    p.add_argument('--batches', type=int, nargs='+', default=[1, 4])
    p.add_argument('--only', nargs='+', choices=WORKLOADS, default=list(WORKLOADS))
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--itm-k', type=int, default=8, help='texts re-ranked for one image')
    p.add_argument(
        '--retrieval-images', type=int, default=4, help='N of the N x 5N retrieval evaluation'
    )
    p.add_argument('--retrieval-k', type=int, default=4, help='k_test of the evaluation')
    p.add_argument('--vqa-answers', type=int, nargs='+', default=[128, 3128])
    p.add_argument('--vqa-k', type=int, nargs='+', default=[16, 128], help='VQA shortlists')
    p.add_argument('--pretrain-batch', type=int, default=2)
    p.add_argument('--no-flops', action='store_true', help='skip counting FLOPs')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--append', action='store_true', help='add this run below the earlier ones')
    p.add_argument('--out', type=Path, default=REPO / 'docs' / 'benchmarks.md')
    p.add_argument('--plot', type=Path, default=REPO / 'docs' / 'benchmarks.png')
    args = p.parse_args(argv)
    if args.device == 'cpu' and args.sdpa in ('efficient', 'cudnn'):
        p.error(f'--sdpa {args.sdpa} has no CPU kernel: use flash, math or default on the CPU')
    return args


def sdpa_context(name: str):
    """Restrict scaled_dot_product_attention to one kernel (both sides use it)."""
    if name == 'default':
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(getattr(SDPBackend, SDPA[name]))


def precision(args: argparse.Namespace) -> str:
    """The header's precision field: dtype, then the kernel and compile variants."""
    parts = [args.amp or 'fp32']
    if args.sdpa != 'default':
        parts.append(f'SDPA {args.sdpa}')
    if args.compile:
        parts.append('torch.compile (caption ViTs)')
    if args.no_onednn:
        parts.append('ours without oneDNN linear')
    return ', '.join(parts)


def run(args: argparse.Namespace, log=print) -> W.Bench:
    """Run the chosen workloads; returns the Bench with its rows (agreement checked)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    set_onednn_linear(not args.no_onednn)
    torch.manual_seed(0)
    size = 'tiny' if args.quick else args.size
    cfg = blip_config(size)
    # FlopCounterMode does not see into compiled graphs: the ViT then counts by formula
    count = not (args.no_flops or args.compile)
    bench = W.Bench(cfg, args.device, args.amp, args.repeats, args.warmup, count)
    with tempfile.TemporaryDirectory() as tmp, sdpa_context(args.sdpa):
        vocab = write_vocab(cfg, Path(tmp))
        want = set(args.only)
        if want & {'vit', 'caption', 'sample', 'train'}:
            hf, ours = (m.to(args.device) for m in caption_pair(cfg, vocab))
            if args.compile:  # in place: the models keep calling their ViT attribute
                ours.vision_encoder.compile()
                hf.vision_model.compile()
            for batch in args.batches:
                if 'vit' in want or 'caption' in want:
                    log(W.vit_forward(bench, hf, ours, batch))
                if 'caption' in want:
                    log(W.caption(bench, hf, ours, batch, 'beam'))
                if 'sample' in want:
                    log(W.caption(bench, hf, ours, batch, 'sample'))
            if 'train' in want:
                log(W.train_step(bench, hf, ours, min(args.batches)))
            bench.packed_mib = max(bench.packed_mib, packed_weight_bytes() / 2**20)
            del hf, ours
        if want & {'itm', 'retrieval'}:
            hf, ours = (m.to(args.device) for m in retrieval_pair(cfg, vocab))
            if 'itm' in want:
                log(W.retrieval_itm(bench, hf, ours, args.itm_k))
            if 'retrieval' in want:
                log(T.retrieval_eval(bench, hf, ours, args.retrieval_images, args.retrieval_k))
            bench.packed_mib = max(bench.packed_mib, packed_weight_bytes() / 2**20)
            del hf, ours
        if 'vqa' in want:
            vqa = vqa_model(cfg, vocab).to(args.device)
            for n in args.vqa_answers:
                for k in sorted({min(k, n) for k in args.vqa_k}):
                    log(T.vqa_rank(bench, vqa, min(args.batches), n, k))
            bench.packed_mib = max(bench.packed_mib, packed_weight_bytes() / 2**20)
            del vqa
        if 'pretrain' in want:
            model = pretrain_model(cfg, vocab).to(args.device)
            log(T.pretrain_step(bench, model, args.pretrain_batch))
    return bench


def write_doc(path: Path, section: str, append: bool) -> str:
    """The title, the earlier runs' sections (``append``), this run's, then the hand-written
    notes of the existing page (kept below ``NOTES``)."""
    old = path.read_text() if path.exists() else ''
    runs, notes = (old.split(NOTES, 1) + [''])[:2] if NOTES in old else (old, '')
    earlier = runs.split('\n', 1)[1].strip() + '\n\n' if append and runs.startswith(TITLE) else ''
    text = f'{TITLE}\n\n{earlier}{section}'
    if NOTES in old:
        text += '\n' + NOTES + notes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


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
    # probed again at the end, the best of both: one probe moves +-20% on a shared machine
    after = matmul_gflops(device=args.device, **probe)
    matmul = {k: max(v, after[k]) for k, v in matmul.items()}
    header = {
        'config': 'tiny (--quick)' if args.quick else f'BLIP-{args.size}, 384 px',
        'batches': 'batch ' + ' '.join(map(str, args.batches)),
        'device': args.device
        if args.device != 'cpu'
        else f'CPU, {torch.get_num_threads()} '
        f'thread(s) ({platform.processor() or platform.machine()})',
        'precision': precision(args),
        'torch / transformers': f'{torch.__version__} / {__import__("transformers").__version__}',
        'repeats (median) / warm-up': f'{args.repeats} / {args.warmup}',
        'load average (1/5/15 min) before / after': f'{load_before} ; {load_average()}',
        'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0)),
        'wall time of the run': f'{(time.time() - t0) / 60:.1f} min',
        'packed oneDNN weight copies held by ours (largest model, not in peak MiB)': (
            f'{bench.packed_mib:.0f} MiB'
        ),
    }
    section = markdown(
        bench.rows,
        header,
        bench.vit_time,
        matmul,
        gbps,
        bench.step_bytes,
        bench.step_read_gbps,
    )
    plot = args.plot
    if args.append:  # one plot per run: the first keeps the default name
        plot = plot.with_name(f'{plot.stem}_{args.size}{plot.suffix}')
    if plot.parent.resolve() == args.out.parent.resolve():
        section += f'\n![{header["config"]}: ours vs transformers]({plot.name})\n'
    write_doc(args.out, section, args.append)
    bar_plot(bench.rows, plot, f'{header["config"]}, {header["device"]}, {header["precision"]}')
    print(section)


if __name__ == '__main__':
    main()
