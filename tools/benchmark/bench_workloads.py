"""The benchmarked workloads. Each checks that ours and transformers agree on the same input
(identical ids, scores within ``TOL``) before it times anything, then returns table rows."""

import random
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from bench_timing import (
    autocast,
    count_flops,
    interleaved,
    peak_memory_mb,
    vit_flops,
    weight_read_gbps,
)
from mmpretrain.structures import DataSample

from blip_plugin.models import generate
from blip_plugin.models.heads.itm import itm_logits

__all__ = ['Bench', 'vit_forward', 'caption', 'retrieval_itm', 'train_step']

TOL = 1e-4


@dataclass
class Bench:
    """What every workload needs: models, device, repeats and the collected rows."""

    cfg: object  # transformers BlipConfig
    device: str = 'cpu'
    amp: Optional[str] = None
    repeats: int = 3
    warmup: int = 1
    count: bool = True  # count each workload's FLOPs (one extra call of ours)
    rows: list = field(default_factory=list)
    vit_time: dict = field(default_factory=dict)  # batch -> our ViT seconds
    step_bytes: int = 0  # decoder weights read per decoding step (cross K/V excluded)
    step_read_gbps: float = 0.0  # measured bandwidth of reading exactly those weights
    packed_mib: float = 0.0  # largest packed oneDNN weight copies ours held (one model)

    @property
    def tol(self) -> float:
        return TOL if not self.amp else 5e-2  # bf16 autocast: agreement to bf16 precision

    def pixels(self, batch: int, seed: int = 0) -> torch.Tensor:
        size = self.cfg.vision_config.image_size
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(batch, 3, size, size, generator=gen).to(self.device)

    def time_pair(
        self,
        name: str,
        batch: int,
        ours: Callable,
        hf: Optional[Callable],
        agree: str,
        items: int,
        flops: Optional[float] = None,
    ) -> dict:
        """Time ours (and transformers, interleaved), measure peak memory, count the FLOPs of
        one call of ours (unless given), add a row."""
        with autocast(self.device, self.amp):
            if flops is None and self.count:
                flops = count_flops(ours)
            mem = {'ours': peak_memory_mb(ours, self.device)}
            if hf is not None:
                mem['hf'] = peak_memory_mb(hf, self.device)
            fns = {'ours': ours, **({'hf': hf} if hf is not None else {})}
            t = interleaved(fns, self.repeats, self.warmup, self.device)
        row = dict(
            workload=name,
            batch=batch,
            ours_s=t['ours'],
            hf_s=t.get('hf'),
            speedup=t['hf'] / t['ours'] if hf is not None else None,
            items_per_s=items / t['ours'],
            ours_mb=mem['ours'],
            hf_mb=mem.get('hf'),
            agree=agree,
            flops=flops,
            gflops=flops / t['ours'] / 1e9 if flops else None,
        )
        self.rows.append(row)
        return row


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def _check(b: Bench, ok: bool, what: str) -> None:
    """Fail before timing on disagreement; under --amp only report (bf16 rounding)."""
    if not ok and not b.amp:
        raise AssertionError(f'ours and transformers disagree: {what}')


@torch.no_grad()
def vit_forward(b: Bench, hf, ours, batch: int) -> dict:
    px = b.pixels(batch)
    with autocast(b.device, b.amp):
        d = _max_diff(ours.vision_encoder(px), hf.vision_model(px)[0])
    _check(b, d < b.tol, f'ViT max |diff| {d:.2e}')
    vc = b.cfg.vision_config
    analytic = vit_flops(
        vc.hidden_size,
        vc.num_hidden_layers,
        vc.intermediate_size,
        vc.image_size,
        vc.patch_size,
        batch,
    )
    flops = analytic
    if b.count:
        with autocast(b.device, b.amp):
            flops = count_flops(lambda: ours.vision_encoder(px))
        if abs(flops / analytic - 1) > 0.01:  # both count matmuls only: they must agree
            raise AssertionError(f'ViT FLOPs counted {flops:.4g} but {analytic:.4g} by formula')
    row = b.time_pair(
        'ViT forward',
        batch,
        lambda: ours.vision_encoder(px),
        lambda: hf.vision_model(px),
        f'max diff {d:.1e}',
        batch,
        flops,
    )
    b.vit_time[batch] = row['ours_s']
    return row


def _prompt(ours, batch: int) -> torch.Tensor:
    """(B, T) tokenized prompt as transformers takes it: [CLS] a picture of [SEP]."""
    return ours.tokenizer([ours.prompt] * batch, return_tensors='pt').input_ids


def _hf_padded(out: torch.Tensor, prompt_len: int, eos: int, pad: int) -> torch.Tensor:
    """transformers' ids with what follows each row's first EOS set to PAD (ours pads)."""
    gen = out[:, prompt_len:]
    after = (gen == eos).long().cumsum(1) - (gen == eos).long() > 0
    return torch.cat([out[:, :prompt_len], gen.masked_fill(after, pad)], dim=1)


@torch.no_grad()
def caption(b: Bench, hf, ours, batch: int, strategy: str = 'beam') -> dict:
    """Pixels -> ids, official COCO settings: beam 3 or nucleus (top_p 0.9, repetition
    penalty 1.1, transformers' top_k 50); max_length 20 and min_length 5 count the prompt."""
    px = b.pixels(batch).to(b.device)
    tok = ours.tokenizer
    prompt = _prompt(ours, batch).to(b.device)
    kw = dict(max_length=20, min_length=5)
    if strategy == 'beam':
        kw['num_beams'] = 3
        hf_kw = dict(kw)
    else:
        kw.update(top_p=0.9, repetition_penalty=1.1)
        hf_kw = dict(kw, do_sample=True)
    step_params = [
        p
        for n, p in ours.text_decoder.named_parameters()
        if not any(f'cross_attn.{kv}.' in n for kv in 'kv')
        and ('embeddings' not in n or '.word.' in n)  # word matrix = tied LM head
    ]
    if not b.step_bytes:
        b.step_bytes = sum(p.numel() * p.element_size() for p in step_params)
        b.step_read_gbps = weight_read_gbps(step_params)
    ours_prompt = prompt[:, :-1].clone()
    ours_prompt[:, 0] = tok.bos_token_id  # [DEC]

    def run_ours() -> torch.Tensor:
        return generate(
            ours.text_decoder,
            ours_prompt,
            ours.encode_image(px),
            eos_token_id=tok.sep_token_id,
            pad_token_id=tok.pad_token_id,
            strategy=strategy,
            **kw,
        )

    def run_hf() -> torch.Tensor:
        return hf.generate(pixel_values=px, input_ids=prompt.clone(), **hf_kw)

    with autocast(b.device, b.amp):
        torch.manual_seed(0)
        mine = run_ours()
        torch.manual_seed(0)
        ref = _hf_padded(run_hf(), prompt.shape[1] - 1, tok.sep_token_id, tok.pad_token_id)
    same = mine.shape == ref.shape and torch.equal(mine.cpu(), ref.cpu())
    _check(b, same, f'{strategy} ids differ')
    gen_len = int((mine[:, ours_prompt.shape[1] :] != tok.pad_token_id).sum(1).float().mean())
    agree = f'ids {"identical" if same else "DIFFER (amp)"}, {gen_len} new tokens'
    name = 'caption beam 3' if strategy == 'beam' else 'caption nucleus'
    return b.time_pair(name, batch, run_ours, run_hf, agree, batch)


def _texts(n: int, words: int, seed: int = 0, fewest: int = 5) -> list:
    rng = random.Random(seed)
    vocab = ['a', 'picture', 'of', 'cat', 'dog'] + [f'w{i}' for i in range(200)]
    return [
        ' '.join(rng.choice(vocab) for _ in range(rng.randint(fewest, words))) for _ in range(n)
    ]


@torch.no_grad()
def retrieval_itm(b: Bench, hf, ours, k: int) -> dict:
    """ITM probabilities of k texts for one image: ours encodes the image and its
    cross-attention keys/values once; transformers takes the image repeated k times."""
    px = b.pixels(1)
    texts = _texts(k, 20)
    ids, atts = ours.tokenize(texts)
    ids = ours.encoder_ids(ids).to(b.device)  # [ENC] first, as the official model
    atts = atts.to(b.device)

    def hf_logits() -> torch.Tensor:
        out = hf(
            input_ids=ids,
            pixel_values=px.expand(k, -1, -1, -1),
            attention_mask=atts,
            use_itm_head=True,
        )
        return out.itm_score.float()  # (k, 2) logits

    def run_hf() -> torch.Tensor:
        return hf_logits().softmax(dim=1)[:, 1]

    with autocast(b.device, b.amp):  # logits, not probabilities: those may saturate
        mine = itm_logits(ours.text_encoder, ours.itm_head, ids, atts, ours.vision_encoder(px))
        d = _max_diff(mine, hf_logits())
        dp = _max_diff(ours.itm_score(px, texts), run_hf())
    _check(b, d < b.tol and dp < b.tol, f'ITM logits max |diff| {d:.2e}, probabilities {dp:.2e}')
    return b.time_pair(
        f'ITM re-rank k={k}',
        1,
        lambda: ours.itm_score(px, texts),
        run_hf,
        f'logits max diff {d:.1e}',
        k,
    )


def train_step(b: Bench, hf, ours, batch: int) -> dict:
    """LM loss forward + backward of one caption batch (dropout off in both: eval mode, so
    the losses can be compared)."""
    px = b.pixels(batch)
    captions = _texts(batch, 15, seed=3)
    samples = [DataSample(gt_caption=c) for c in captions]
    ids, mask = ours._tokenize([ours.prompt + c for c in captions])
    labels = ids.masked_fill(ids == ours.tokenizer.pad_token_id, -100)
    labels[:, : ours.prompt_length] = -100

    def run_ours() -> torch.Tensor:
        ours.zero_grad(set_to_none=True)
        loss = ours.loss(px, samples)['loss_lm']
        loss.backward()
        return loss.detach()

    def run_hf() -> torch.Tensor:
        hf.zero_grad(set_to_none=True)
        loss = hf(pixel_values=px, input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        return loss.detach()

    with autocast(b.device, b.amp):
        d = _max_diff(run_ours(), run_hf())
    _check(b, d < b.tol, f'loss |diff| {d:.2e}')
    row = b.time_pair('caption train step', batch, run_ours, run_hf, f'loss diff {d:.1e}', batch)
    ours.zero_grad(set_to_none=True)
    hf.zero_grad(set_to_none=True)
    return row
