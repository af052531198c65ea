"""Box-as-tokens head of BLIP visual grounding (mmpretrain models/heads/grounding_head.py).

A box is four tokens: its normalised centre x, centre y, width and height, each quantised to
one of ``num_bins + 1`` bins, bin ``i`` being the vocabulary token ``[unused{340 + i}]``, after
a ``[unused339]`` prefix (mmpretrain: ``image_res = 640``). The decoder reads the image
embeddings and the image-grounded text states side by side and predicts the four tokens
causally; only bin tokens can be predicted (mmpretrain adds -10000 to every other logit; taking
the softmax over the bin logits alone is the same distribution).

Training loss: cross-entropy of the four tokens. mmpretrain also computes an L1- and
GIoU-weighted version, but under ``torch.no_grad()``, so its gradient is the plain
cross-entropy's; ``weighted_loss=True`` applies those (detached) weights to the loss instead.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedTokenizerBase

from ..med import MEDDecoder
from ..med.transformer import MEDCache

__all__ = [
    'BlipGroundingHead',
    'box_cxcywh_to_xyxy',
    'box_xyxy_to_cxcywh',
    'box_iou',
    'generalized_box_iou',
]

# Buffers of mmpretrain's GroundingHead that this head derives from the tokenizer.
MMPRETRAIN_BUFFERS = ('prefix_ids', 'target_ids', 'bbox_prob_mask')


def box_cxcywh_to_xyxy(box: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = box.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def box_xyxy_to_cxcywh(box: torch.Tensor) -> torch.Tensor:
    x1, y1, x2, y2 = box.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


def _area(box: torch.Tensor) -> torch.Tensor:
    return (box[..., 2] - box[..., 0]).clamp(min=0) * (box[..., 3] - box[..., 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> tuple:
    """IoU and union of aligned xyxy boxes (N, 4), (N, 4) -> (N,), (N,); 0 where the union
    is empty."""
    lt = torch.maximum(a[:, :2], b[:, :2])  # (N, 2)
    rb = torch.minimum(a[:, 2:], b[:, 2:])  # (N, 2)
    inter = (rb - lt).clamp(min=0).prod(-1)  # (N,)
    union = _area(a) + _area(b) - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(union))
    return iou, union


def generalized_box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GIoU of aligned xyxy boxes (N, 4), (N, 4) -> (N,) (Rezatofighi et al. 2019)."""
    iou, union = box_iou(a, b)
    hull = _area(
        torch.cat([torch.minimum(a[:, :2], b[:, :2]), torch.maximum(a[:, 2:], b[:, 2:])], 1)
    )
    return iou - (hull - union) / hull.clamp(min=1e-12)


def bin_token_names(num_bins: int, first_unused: int = 339) -> list:
    """``[prefix, bin 0, ..., bin num_bins]`` token names (mmpretrain: [unused339..980])."""
    return [f'[unused{first_unused + i}]' for i in range(num_bins + 2)]


class BlipGroundingHead(nn.Module):
    """Box tokens: their ids, the training loss and greedy decoding of a box.

    The decoder is the model's ``text_decoder`` (passed to :meth:`loss` / :meth:`predict`), so
    its weights keep the one name every BLIP decoder has.

    Args:
        tokenizer: the model's tokenizer. Bin tokens it lacks (a small toy vocabulary) are
            added to it, so build the MED after this head.
        num_bins: bins per coordinate minus one (mmpretrain's ``image_res``). Defaults to 640.
        weighted_loss: weight each token's cross-entropy by the (detached) L1 and GIoU errors
            of the greedy box, as mmpretrain's logged ``loss_seq``; False trains plain
            cross-entropy, which is mmpretrain's actual gradient. Defaults to False.
        box_l1_loss_coeff: L1 weight factor. Defaults to 4.0.
        box_giou_loss_coeff: GIoU weight factor. Defaults to 2.0.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        num_bins: int = 640,
        weighted_loss: bool = False,
        box_l1_loss_coeff: float = 4.0,
        box_giou_loss_coeff: float = 2.0,
    ) -> None:
        super().__init__()
        if num_bins < 1:
            raise ValueError(f'num_bins must be >= 1, got {num_bins}')
        names = bin_token_names(num_bins)
        ids = tokenizer.convert_tokens_to_ids(names)
        if any(i is None or i == tokenizer.unk_token_id for i in ids):
            tokenizer.add_tokens(names, special_tokens=True)  # toy vocabularies lack them
            ids = tokenizer.convert_tokens_to_ids(names)
        self.num_bins = num_bins
        self.vocab_size = len(tokenizer)
        self.weighted_loss = weighted_loss
        self.box_l1_loss_coeff, self.box_giou_loss_coeff = box_l1_loss_coeff, box_giou_loss_coeff
        # derived from the tokenizer, never saved: mmpretrain checkpoints' copies are checked
        self.register_buffer('prefix_ids', torch.tensor(ids[:1]), persistent=False)  # (1,)
        self.register_buffer('target_ids', torch.tensor(ids[1:]), persistent=False)  # (K,)

    # -- mmpretrain checkpoints --------------------------------------------------------------
    def bbox_prob_mask(self) -> torch.Tensor:
        """mmpretrain's ``bbox_prob_mask``: 0 from the first to the last bin id, -10000 else."""
        mask = torch.full((self.vocab_size,), -10000.0)
        mask[int(self.target_ids[0]) : int(self.target_ids[-1]) + 1] = 0.0
        return mask

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        """Check, then drop, the token buffers an mmpretrain checkpoint carries."""
        for name in MMPRETRAIN_BUFFERS:
            key = prefix + name
            if key not in state_dict:
                continue
            given = state_dict.pop(key)
            mine = self.bbox_prob_mask() if name == 'bbox_prob_mask' else getattr(self, name)
            if given.shape != mine.shape or not torch.equal(
                given.float().cpu(), mine.float().cpu()
            ):
                raise ValueError(
                    f'checkpoint key {key!r} (shape {tuple(given.shape)}) differs from what this '
                    f'tokenizer gives (shape {tuple(mine.shape)}; bins {self.num_bins}, prefix '
                    f'id {int(self.prefix_ids[0])}): the checkpoint was trained with another '
                    'vocabulary or number of bins'
                )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- training and inference ---------------------------------------------------------------
    def box_tokens(self, boxes: torch.Tensor) -> torch.Tensor:
        """Normalised cxcywh boxes (B, 4) in [0, 1] -> bin indices (B, 4) (floor, mmpretrain)."""
        return (boxes.clamp(0, 1) * self.num_bins).long()

    def bin_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits (..., V) -> logits over the bins (..., K)."""
        return logits.index_select(-1, self.target_ids)

    def loss(
        self,
        decoder: MEDDecoder,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        boxes: torch.Tensor,
    ) -> dict:
        """Loss of decoding ``boxes`` (B, 4) normalised cxcywh.

        Args:
            decoder: the causal MED decoder.
            memory: (B, N + L, H) image embeddings then image-grounded text states.
            memory_mask: (B, N + L) 1 = attend.
        """
        B = boxes.shape[0]
        bins = self.box_tokens(boxes)  # (B, 4)
        prefix = self.prefix_ids.expand(B, 1)  # (B, 1)
        input_ids = torch.cat([prefix, self.target_ids[bins]], dim=1)  # (B, 5)
        logits = self.bin_logits(decoder(input_ids, None, memory, memory_mask))  # (B, 5, K)
        logits = logits[:, :-1].float()  # position t predicts token t + 1: (B, 4, K)
        ce = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), bins.reshape(-1), reduction='none'
        )
        ce = ce.view(B, 4)
        with torch.no_grad():
            pred = logits.argmax(-1).float() / self.num_bins  # (B, 4) cxcywh
            l1 = F.l1_loss(pred, boxes, reduction='none').clamp(0, 5) * self.box_l1_loss_coeff
            giou = generalized_box_iou(box_cxcywh_to_xyxy(pred), box_cxcywh_to_xyxy(boxes))
            giou_w = (1 - giou) * self.box_giou_loss_coeff  # (B,)
        loss = (ce * l1 * giou_w[:, None]).mean() if self.weighted_loss else ce.mean()
        return dict(loss_box_tokens=loss, box_l1=l1.mean(), box_giou=giou_w.mean())

    @torch.no_grad()
    def predict(
        self, decoder: MEDDecoder, memory: torch.Tensor, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        """Greedy decoding of four box tokens -> (B, 4) xyxy boxes in [0, 1]."""
        B = memory.shape[0]
        cache = MEDCache()
        token = self.prefix_ids.expand(B, 1)  # (B, 1)
        bins = []
        for step in range(4):
            kv = (memory, memory_mask) if step == 0 else (None, None)
            logits = decoder(token, None, *kv, cache=cache)[:, -1]  # (B, V)
            best = self.bin_logits(logits).argmax(-1)  # (B,)
            bins.append(best)
            token = self.target_ids[best][:, None]  # (B, 1)
        box = torch.stack(bins, dim=1).float() / self.num_bins  # (B, 4) cxcywh
        return box_cxcywh_to_xyxy(box).clamp(0, 1)
