"""``nn.Linear`` whose inference calls on the CPU run oneDNN's inner product.

torch's ``F.linear`` on the CPU calls MKL's sgemm. On the AMD EPYC (Zen 4) machine the
benchmarks run on, MKL picks slow kernels for the few-row products of a decoding step and
its speed jumps with the row count (docs/benchmarks.md: 433 MB of decoder weights times 3 /
12 / 48 rows took 71 / 49 / 96 ms with MKL, 23 / 31 / 65 ms with oneDNN and 17 / 20 / 54 ms
with oneDNN on packed weights, 2 threads); oneDNN
(torch's ``mkldnn`` backend, the kernels inductor's CPU freezing path calls) streams the
weights near memory bandwidth at every row count and also runs the ViT's large products ~10%
faster, with the exact (erf) GELU fused into the product.

oneDNN runs fastest on weights reordered into its blocked layout (the same products 1.3-1.7x
faster at 3-12 rows, ~15% at 577): the first inference call of a layer packs a copy of its
weight (``torch.ops.mkldnn._reorder_linear_weight``) and keeps it, outside the module's state,
while the weight is unchanged (same storage, same version counter: an optimizer step or
``load_state_dict`` repacks). CPU inference thus holds the weights twice;
``set_onednn_linear(pack=False)`` runs on the plain weights instead, and a training call
(grad enabled) drops the layer's copy.

Training (grad enabled), autocast, other dtypes and devices, ``torch.compile`` tracing and
torch builds without oneDNN take plain ``nn.Linear``. Results equal ``F.linear`` up to
summation order (max difference ~1e-6 relative).
"""

import logging
import weakref
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import nn

__all__ = [
    'Linear',
    'ONEDNN_LINEAR',
    'onednn_linear',
    'pack_weight',
    'onednn_linear_enabled',
    'set_onednn_linear',
    'packed_weight_bytes',
]


def _find_op() -> Optional[Callable]:
    if not torch.backends.mkldnn.is_available():
        return None
    return getattr(torch.ops.mkldnn, '_linear_pointwise', None)


# the oneDNN inner product op (None where torch has none), also counted by the benchmark
ONEDNN_LINEAR = _find_op()
_REORDER = getattr(torch.ops.mkldnn, '_reorder_linear_weight', None) if ONEDNN_LINEAR else None
_enabled = ONEDNN_LINEAR is not None
_pack = True
# Linear -> ((data_ptr, version), packed weight); weak keys: a deleted layer frees its copy
_PACKED: 'weakref.WeakKeyDictionary[Linear, tuple]' = weakref.WeakKeyDictionary()
# rows the packed layout is chosen for: measured as fast as a per-row-count packing from 3
# to 577 rows (the layout for 1 row is slower everywhere else)
_PACK_ROWS = 64


def set_onednn_linear(enabled: bool = True, pack: bool = True) -> None:
    """Switch the oneDNN path on or off for every :class:`Linear` (benchmark A/B, debugging),
    and its packed weight copies (off frees them). Switching on where torch has no oneDNN
    linear leaves it off."""
    global _enabled, _pack
    _enabled = bool(enabled) and ONEDNN_LINEAR is not None
    _pack = bool(pack)
    if not (_enabled and _pack):
        _PACKED.clear()


def onednn_linear_enabled() -> bool:
    return _enabled


def packed_weight_bytes() -> int:
    """Memory held by the packed weight copies of every live :class:`Linear`."""
    return sum(packed.numel() * packed.element_size() for _, packed in _PACKED.values())


def pack_weight(weight: torch.Tensor) -> torch.Tensor:
    """A copy of ``weight`` (out, in) in oneDNN's blocked layout, or ``weight`` itself where
    torch cannot reorder."""
    return weight if _REORDER is None else _REORDER(weight.detach(), _PACK_ROWS)


def onednn_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], gelu: bool = False
) -> torch.Tensor:
    """``x @ weight^T + bias`` (then exact GELU) by oneDNN; ``weight`` plain or packed."""
    if gelu:
        return ONEDNN_LINEAR(x, weight, bias, 'gelu', [], 'none')
    return ONEDNN_LINEAR(x, weight, bias, 'none', [], '')


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


def _version(t: torch.Tensor) -> int:
    """In-place update counter; -1 for inference-mode tensors, which keep none."""
    return -1 if t.is_inference() else t._version


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, same state dict) with a oneDNN inference path; see the
    module doc. ``forward(x, gelu=True)`` returns ``gelu(linear(x))`` (exact GELU), fused into
    the product on the oneDNN path."""

    def _onednn_weight(self) -> torch.Tensor:
        """The packed copy of the weight (made or remade here), or the weight itself."""
        if not _pack or _REORDER is None:
            return self.weight
        key = (self.weight.data_ptr(), _version(self.weight))
        hit = _PACKED.get(self)
        if hit is None or hit[0] != key:
            hit = _PACKED[self] = (key, pack_weight(self.weight))
        return hit[1]

    def forward(self, x: torch.Tensor, gelu: bool = False) -> torch.Tensor:
        if _eligible(x, self.weight):
            try:
                return onednn_linear(x, self._onednn_weight(), self.bias, gelu)
            except RuntimeError as err:
                y = super().forward(x)  # bad input raises torch's usual error here
                # F.linear runs what oneDNN could not: this build cannot, fall back for good
                set_onednn_linear(False)
                print_log(
                    f'oneDNN linear failed ({err}); using torch.nn.functional.linear',
                    logger='current',
                    level=logging.WARNING,
                )
        else:
            if torch.is_grad_enabled():
                _PACKED.pop(self, None)
            y = super().forward(x)
        return F.gelu(y) if gelu else y
