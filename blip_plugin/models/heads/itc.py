"""Image-text contrastive (ITC) pieces: cross-rank gathers, the feature queue and the
momentum-distilled contrastive loss (paper section 3.2, after ALBEF; official
models/blip_pretrain.py and blip_retrieval.py).

Every feature bank here is laid out as the official queues are, (D, columns): the global
batch's momentum features first, then the queue.
"""

from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F

__all__ = [
    'get_dist_info',
    'concat_all_gather',
    'all_gather_with_grad',
    'all_reduce_sum',
    'enqueue',
    'itc_loss',
    'soft_targets',
    'one_hot_targets',
]


def get_dist_info() -> tuple[int, int]:
    """(rank, world_size); (0, 1) outside an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def concat_all_gather(tensor: torch.Tensor, keep_grad: bool = False) -> torch.Tensor:
    """Concatenate ``tensor`` (B, ...) of every rank along dim 0 -> (W * B, ...), rank order.

    All ranks must pass the same shape. With ``keep_grad`` the local slice is ``tensor``
    itself, so gradients flow through the local part only (the other ranks' slices are
    constants); otherwise the result is detached, as the official ``concat_all_gather``.
    """
    rank, world = get_dist_info()
    if world == 1:
        return tensor if keep_grad else tensor.detach()
    parts = [torch.empty_like(tensor) for _ in range(world)]
    dist.all_gather(parts, tensor.detach().contiguous())
    if keep_grad:
        parts[rank] = tensor
    return torch.cat(parts, dim=0)


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient of a slice and hands it to the
    rank that owns the slice (official ``GatherLayer``). Averaged by DDP, the parameter
    gradients then equal those of one process running the whole global batch."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        rank, world = get_dist_info()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.batch = rank, x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.batch : (ctx.rank + 1) * ctx.batch]


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` (B, ...) of every rank -> (W * B, ...), differentiable for
    every slice (official ``all_gather_with_grad``)."""
    if get_dist_info()[1] == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of ``tensor`` over ranks (a new tensor; the input is left as it is)."""
    out = tensor.detach().clone()
    if get_dist_info()[1] > 1:
        dist.all_reduce(out)
    return out


@torch.no_grad()
def enqueue(queues: list[torch.Tensor], ptr: torch.Tensor, columns: list[torch.Tensor]) -> None:
    """Write ``columns[i]`` (B, D_i) as the next B columns of ``queues[i]`` (D_i, Q), in place,
    wrapping around, and advance ``ptr`` (1,) long (official ``_dequeue_and_enqueue``, which
    asserts Q % B == 0 instead of wrapping)."""
    size = queues[0].shape[1]
    n = columns[0].shape[0]
    if n > size:
        raise ValueError(f'a global batch of {n} does not fit a queue of {size}')
    start = int(ptr[0])
    index = (torch.arange(n, device=ptr.device) + start) % size  # (B,)
    for queue, col in zip(queues, columns):
        queue[:, index.to(queue.device)] = col.t().to(queue.dtype)
    ptr[0] = (start + n) % size


def soft_targets(sim_m: torch.Tensor, hard: torch.Tensor, alpha: float) -> torch.Tensor:
    """Momentum distillation: alpha * softmax(momentum similarities) + (1 - alpha) * hard."""
    return alpha * F.softmax(sim_m, dim=1) + (1 - alpha) * hard


def itc_loss(
    image_feat: torch.Tensor,
    text_feat: torch.Tensor,
    image_feat_m: torch.Tensor,
    text_feat_m: torch.Tensor,
    image_bank: torch.Tensor,
    text_bank: torch.Tensor,
    temp: torch.Tensor,
    targets: torch.Tensor,
    alpha: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Contrastive loss of local rows against the momentum bank, momentum-distilled.

    Args:
        image_feat, text_feat: (B, D) normalised local features (with gradient).
        image_feat_m, text_feat_m: (B, D) their momentum counterparts.
        image_bank, text_bank: (D, B_g + Q) momentum features of the global batch, then the
            queue.
        temp: the learnable temperature (a scalar).
        targets: (B, B_g + Q) ground-truth distribution of each local row (one-hot in
            pre-training; uniform over the same image's texts in retrieval).
        alpha: weight of the momentum model's soft targets.

    Returns:
        (loss, sim_i2t, sim_t2i): the mean of the i2t and t2i losses, and the (B, B_g + Q)
        similarities of the online features (for hard-negative mining).
    """
    with torch.no_grad():
        i2t_targets = soft_targets(image_feat_m @ text_bank / temp, targets, alpha)
        t2i_targets = soft_targets(text_feat_m @ image_bank / temp, targets, alpha)
    sim_i2t = image_feat @ text_bank / temp  # (B, B_g + Q)
    sim_t2i = text_feat @ image_bank / temp  # (B, B_g + Q)
    loss_i2t = -(F.log_softmax(sim_i2t, dim=1) * i2t_targets).sum(1).mean()
    loss_t2i = -(F.log_softmax(sim_t2i, dim=1) * t2i_targets).sum(1).mean()
    return (loss_i2t + loss_t2i) / 2, sim_i2t, sim_t2i


def one_hot_targets(
    batch: int, columns: int, offset: int, device: Optional[torch.device] = None
) -> torch.Tensor:
    """(B, columns) targets whose row i is one at column ``offset + i`` (the pair's own
    momentum feature in the global batch)."""
    t = torch.zeros(batch, columns, device=device)
    t[torch.arange(batch), offset + torch.arange(batch)] = 1.0
    return t
