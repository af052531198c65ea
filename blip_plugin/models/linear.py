"""``nn.Linear`` whose inference calls on the CPU run oneDNN's inner product.

torch's ``F.linear`` on the CPU calls MKL's sgemm. On the AMD EPYC (Zen 4) machine the
benchmarks run on, MKL picks slow kernels for the few-row products of a decoding step and
its speed jumps with the row count (docs/benchmarks.md: 433 MB of decoder weights times 3 /
12 / 48 rows took 71 / 49 / 96 ms with MKL, 23 / 31 / 65 ms with oneDNN, 2 threads); oneDNN
(torch's ``mkldnn`` backend, the kernels inductor's CPU freezing path calls) streams the
weights near memory bandwidth at every row count and also runs the ViT's large products ~10%
faster, with the exact (erf) GELU fused into the product.

Training (grad enabled), autocast, other dtypes and devices, ``torch.compile`` tracing and
torch builds without oneDNN take plain ``nn.Linear``. Results equal ``F.linear`` up to
summation order (max difference ~1e-6 relative).
"""

import logging
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import nn

__all__ = ['Linear', 'onednn_linear_enabled', 'set_onednn_linear']


def _find_op() -> Optional[Callable]:
    if not torch.backends.mkldnn.is_available():
        return None
    return getattr(torch.ops.mkldnn, '_linear_pointwise', None)


_OP = _find_op()
_enabled = _OP is not None


def set_onednn_linear(enabled: bool) -> None:
    """Switch the oneDNN path on or off for every :class:`Linear` (benchmark A/B, debugging).
    Switching on where torch has no oneDNN linear leaves it off."""
    global _enabled
    _enabled = bool(enabled) and _OP is not None


def onednn_linear_enabled() -> bool:
    return _enabled


def _eligible(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        _enabled
        and x.device.type == 'cpu'
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled('cpu')
        and not torch.compiler.is_compiling()
    )


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, same state dict) with a oneDNN inference path; see the
    module doc. ``forward(x, gelu=True)`` returns ``gelu(linear(x))`` (exact GELU), fused into
    the product on the oneDNN path."""

    def forward(self, x: torch.Tensor, gelu: bool = False) -> torch.Tensor:
        if _eligible(x, self.weight):
            try:
                if gelu:
                    return _OP(x, self.weight, self.bias, 'gelu', [], 'none')
                return _OP(x, self.weight, self.bias, 'none', [], '')
            except RuntimeError as err:  # a oneDNN build that cannot run it: fall back for good
                set_onednn_linear(False)
                print_log(
                    f'oneDNN linear failed ({err}); using torch.nn.functional.linear',
                    logger='current',
                    level=logging.WARNING,
                )
        y = super().forward(x)
        return F.gelu(y) if gelu else y
