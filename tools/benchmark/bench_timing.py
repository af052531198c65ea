"""Interleaved timing, peak memory, measured matmul throughput and counted FLOPs.

On a shared CPU, load changes from second to second: two implementations timed one after
the other see different machines. ``interleaved`` alternates them repeat by repeat and takes
each one's median, so both medians come from the same stretch of time.
"""

import ctypes
import gc
import math
import os
import statistics
import threading
import time
from contextlib import nullcontext
from typing import Callable, Optional

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from blip_plugin.models.linear import ONEDNN_LINEAR, onednn_linear, pack_weight

__all__ = [
    'interleaved',
    'peak_memory_mb',
    'matmul_gflops',
    'weight_read_gbps',
    'count_flops',
    'vit_flops',
    'load_average',
    'autocast',
    'memory_gbps',
]


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def autocast(device: str, amp: Optional[str]):
    """bf16/fp16 autocast on the device, or nothing."""
    if not amp:
        return nullcontext()
    dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}[amp]
    return torch.autocast(device_type=device.split(':')[0], dtype=dtype)


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1, device: str = 'cpu'
) -> dict[str, float]:
    """Median seconds of each function, run alternately (``warmup`` untimed rounds first)."""
    times: dict[str, list] = {k: [] for k in fns}
    for r in range(warmup + repeats):
        order = list(fns) if r % 2 == 0 else list(fns)[::-1]  # neither always goes first
        for name in order:
            _sync(device)
            t0 = time.perf_counter()
            fns[name]()
            _sync(device)
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def peak_memory_mb(fn: Callable[[], object], device: str = 'cpu') -> float:
    """Peak memory of one call above what was held before it, in MiB: CUDA's max allocated,
    or on the CPU the resident set sampled every millisecond by a thread, after
    ``malloc_trim`` (an approximation: glibc may keep freed blocks, small ones are missed)."""
    gc.collect()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    try:  # hand glibc's free lists back to the OS, so that reused memory shows as growth
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except OSError:
        pass
    base, peak, done = _rss_bytes(), [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.001)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        fn()
    finally:
        done.set()
        watcher.join()
    return max(peak[0], _rss_bytes()) / 2**20 - base / 2**20


def matmul_gflops(
    n: int = 2048, repeats: int = 10, device: str = 'cpu', dtype: torch.dtype = torch.float32
) -> dict:
    """Best throughput of an (n, n) @ (n, n) product in GFLOP/s (2 n^3 per product), per
    kernel: ``torch.mm`` (MKL on the CPU, cuBLAS on a GPU) and, on the CPU, the oneDNN inner
    product that ``blip_plugin.models.linear.Linear`` runs, on plain and on packed weights.
    The largest is the machine's reference throughput."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    kernels = {'torch.mm': lambda: torch.mm(a, b)}
    if device == 'cpu' and ONEDNN_LINEAR is not None:  # a @ b^T: same FLOPs, b's own layout
        packed = pack_weight(b)
        kernels['oneDNN'] = lambda: onednn_linear(a, b, None)
        kernels['oneDNN packed'] = lambda: onednn_linear(a, packed, None)
    out = {}
    for name, fn in kernels.items():
        fn()
        best = float('inf')
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            best = min(best, time.perf_counter() - t0)
        out[name] = 2 * n**3 / best / 1e9
    return out


def memory_gbps(mib: int = 512, repeats: int = 5, device: str = 'cpu') -> float:
    """Best read+write bandwidth of copying a ``mib`` MiB float32 tensor, in GB/s: the bound
    of small-batch decoding, which reads every decoder weight once per step."""
    a = torch.empty(mib * 2**18, device=device).fill_(1.0)
    b = torch.empty_like(a)
    b.copy_(a)
    best = float('inf')
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        b.copy_(a)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.numel() * 4 / best / 1e9


def weight_read_gbps(params: list, repeats: int = 3) -> float:
    """Best read bandwidth of summing every tensor of ``params`` once, in GB/s: how fast this
    machine streams exactly the weights a decoding step reads (the floor of a step's time)."""
    nbytes = sum(p.numel() * p.element_size() for p in params)
    best = float('inf')
    with torch.no_grad():
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            for p in params:
                p.sum()
            best = min(best, time.perf_counter() - t0)
    return nbytes / best / 1e9


def _cpu_sdpa_flops(q, k, v, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(q, k, v)


def _cpu_sdpa_backward_flops(grad, q, k, v, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad, q, k, v)


def _onednn_linear_flops(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
    rows = math.prod(x_shape[:-1])
    return 2 * rows * w_shape[0] * w_shape[1]  # (rows, in) x (out, in)^T


# torch's counter knows the CUDA attention kernels but not the CPU one, nor the oneDNN inner
# product that blip_plugin.models.linear.Linear runs on the CPU (torch 2.14)
_CPU_OPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: (_cpu_sdpa_backward_flops),
}
if ONEDNN_LINEAR is not None:
    _CPU_OPS[ONEDNN_LINEAR] = _onednn_linear_flops


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn``, counted by ``torch.utils.flop_counter.FlopCounterMode``
    (2 per multiply-add of every matmul, convolution and attention, backward included;
    causal attention counted as full; elementwise ops, softmax and LayerNorm left out)."""
    with FlopCounterMode(display=False, custom_mapping=_CPU_OPS) as counter:
        fn()
    return counter.get_total_flops()


def vit_flops(width: int, depth: int, mlp: int, image: int, patch: int, batch: int) -> float:
    """Forward FLOPs of a ViT, counting 2 per multiply-add: per token the patch embedding
    (2 * 3 p^2 * D, patch tokens only) and per block the QKV and output projections
    (2 * 4 D^2), the MLP (2 * 2 D * mlp), and attention's QK^T and AV (2 * 2 * T * D).
    LayerNorms, softmax, GELU and biases (O(T D)) are left out."""
    n = (image // patch) ** 2
    t = n + 1
    patch_embed = 2 * n * 3 * patch * patch * width
    per_block = t * (2 * 4 * width * width + 2 * 2 * width * mlp) + 2 * 2 * t * t * width
    return batch * (patch_embed + depth * per_block)


def load_average() -> str:
    return ' / '.join(f'{x:.2f}' for x in os.getloadavg())
