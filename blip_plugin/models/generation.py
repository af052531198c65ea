"""Text generation over the MED decoder: beam search, nucleus sampling and greedy decoding.

The semantics follow transformers' ``GenerationMixin.generate`` (5.x: ``_beam_search`` and
``_sample`` in ``generation/utils.py``, processors in ``generation/logits_process.py``) for the
arguments BLIP passes (official ``models/blip.py`` ``BLIP_Decoder.generate``): lengths count the
prompt, the repetition penalty sees every previous id (prompt included), beam search processes
log-softmax scores, and sampling draws with ``torch.multinomial`` once per step over all rows.

Unlike the reference, every image's cross-attention keys/values are computed once and shared by
its beams or samples (``MEDCache``), the prompt is run once per image, and the self-attention
cache is reordered in place: one decoder call per step for the whole batch.
"""

from typing import Optional, Union

import torch
import torch.nn.functional as F

from .med.decoder import MEDDecoder
from .med.transformer import MEDCache

__all__ = ['generate', 'process_scores', 'warp_scores', 'inverse_cdf_draw']

NEG = -1.0e9  # transformers' "impossible" score in beam bookkeeping (not -inf: it is summed)


def process_scores(
    scores: torch.Tensor,
    ids: torch.Tensor,
    eos_token_id: int,
    min_length: int,
    repetition_penalty: float,
) -> torch.Tensor:
    """transformers' processors in their order: RepetitionPenaltyLogitsProcessor, then
    MinLengthLogitsProcessor. ``scores``: (R, V) logits or log-probs; ``ids``: (R, L) every
    token so far, prompt included."""
    if repetition_penalty != 1.0:
        V = scores.shape[-1]
        padded = F.pad(scores, (0, 1))  # ids beyond the output vocabulary land on column V
        idx = ids.clamp(max=V)
        score = padded.gather(1, idx)  # (R, L)
        score = torch.where(score < 0, score * repetition_penalty, score / repetition_penalty)
        scores = padded.scatter(1, idx, score)[:, :V]
    if ids.shape[1] < min_length:
        scores = scores.clone()
        scores[:, eos_token_id] = -float('inf')
    return scores


def warp_scores(
    scores: torch.Tensor,
    temperature: float,
    top_k: Optional[int],
    top_p: float,
    min_tokens_to_keep: int = 1,
) -> torch.Tensor:
    """transformers' sampling warpers in their order: temperature, top-k, top-p (nucleus)."""
    if temperature != 1.0:
        scores = scores / temperature
    if top_k:
        k = min(max(top_k, min_tokens_to_keep), scores.shape[-1])
        kth = torch.topk(scores, k)[0][..., -1, None]  # (R, 1)
        scores = scores.masked_fill(scores < kth, -float('inf'))
    if top_p < 1.0:
        sorted_scores, sorted_idx = torch.sort(scores, descending=False)
        cum = sorted_scores.softmax(dim=-1).cumsum(dim=-1)  # (R, V) ascending
        remove = cum <= (1 - top_p)
        remove[..., -min_tokens_to_keep:] = False
        scores = scores.masked_fill(remove.scatter(1, sorted_idx, remove), -float('inf'))
    return scores


@torch.no_grad()
def generate(
    decoder: MEDDecoder,
    input_ids: torch.Tensor,
    image_embeds: torch.Tensor,
    *,
    eos_token_id: int,
    pad_token_id: int,
    strategy: str = 'beam',
    num_beams: int = 3,
    max_length: int = 20,
    min_length: int = 5,
    top_p: float = 0.9,
    temperature: float = 1.0,
    repetition_penalty: float = 1.0,
    length_penalty: float = 1.0,
    num_return_sequences: int = 1,
    image_atts: Optional[torch.Tensor] = None,
    generator: Optional[torch.Generator] = None,
    top_k: Optional[int] = 50,
    early_stopping: Union[bool, str] = False,
    uniforms: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Continue prompts conditioned on images.

    Args:
        decoder: the image-grounded text decoder.
        input_ids: (B, T0) prompt ids (``[DEC] a picture of``), the same length for all rows.
        image_embeds: (B, N, W) one image per prompt.
        eos_token_id: ends a sequence (``[SEP]``).
        pad_token_id: fills finished rows.
        strategy: 'beam', 'sample' (nucleus) or 'greedy'. Defaults to 'beam'.
        num_beams: beams per image ('beam'). Defaults to 3.
        max_length: longest output, prompt included. Defaults to 20.
        min_length: EOS is banned while the output (prompt included) is shorter. Defaults to 5.
        top_p: nucleus mass ('sample'). Defaults to 0.9.
        temperature: logits divisor ('sample'). Defaults to 1.0.
        repetition_penalty: CTRL penalty over every previous id. Defaults to 1.0.
        length_penalty: finished beams score ``sum logp / generated_len ** length_penalty``,
            generated_len counting the EOS, not the prompt (transformers 5). Defaults to 1.0.
        num_return_sequences: outputs per image (<= num_beams for 'beam'). Defaults to 1.
        image_atts: (B, N) image mask; None = all image tokens.
        generator: RNG of 'sample'; None = torch's global RNG, as transformers.
        top_k: top-k filter before top-p ('sample'); transformers' default 50 applies to the
            official BLIP too, which does not set it. 0 or None disables. Defaults to 50.
        early_stopping: transformers' beam stopping rule: False (its heuristic), True (stop
            once num_beams hypotheses are done) or 'never'. Defaults to False.
        uniforms: (B * num_return_sequences, max_length - T0) numbers in [0, 1) for
            'sample', used instead of ``generator``: row r's token at step t is drawn by
            inverse CDF from ``uniforms[r, t]``, so a row's draws do not depend on the other
            rows of the batch (CapFilt's per-image seeds). Defaults to None.

    Returns:
        (B * num_return_sequences, L) ids, prompt included, L <= max_length, rows that ended
        early padded with ``pad_token_id``; the n outputs of one image are consecutive.
    """
    B, T0 = input_ids.shape
    if image_embeds.shape[0] != B:
        raise ValueError(f'{B} prompts but {image_embeds.shape[0]} images')
    if max_length <= T0:
        raise ValueError(f'max_length ({max_length}) must exceed the prompt length ({T0})')
    proc = dict(
        eos_token_id=eos_token_id,
        min_length=min_length,
        repetition_penalty=float(repetition_penalty),
    )
    if strategy == 'beam':
        if not 1 <= num_return_sequences <= num_beams:
            raise ValueError(
                f'num_return_sequences ({num_return_sequences}) must be in '
                f'[1, num_beams={num_beams}]'
            )
        if early_stopping not in (True, False, 'never'):
            raise ValueError(
                f"early_stopping must be True, False or 'never', got {early_stopping!r}"
            )
        cache, logits = _prefill(decoder, input_ids, image_embeds, image_atts, num_beams)
        return _beam_search(
            decoder,
            cache,
            logits,
            input_ids,
            num_beams,
            max_length,
            float(length_penalty),
            early_stopping,
            num_return_sequences,
            pad_token_id,
            proc,
        )
    if strategy not in ('sample', 'greedy'):
        raise ValueError(f"strategy must be 'beam', 'sample' or 'greedy', got {strategy!r}")
    if strategy == 'greedy' and num_return_sequences != 1:
        raise ValueError('greedy decoding returns one sequence per image')
    warp = None
    if strategy == 'sample':
        warp = dict(temperature=float(temperature), top_k=top_k, top_p=float(top_p))
    if uniforms is not None:
        want = (B * num_return_sequences, max_length - T0)
        if strategy != 'sample' or tuple(uniforms.shape) != want:
            raise ValueError(
                f"uniforms are for strategy='sample' with shape {want}; got "
                f'{strategy!r} and {tuple(uniforms.shape)}'
            )
        generator = uniforms.to(input_ids.device, torch.float64)
    cache, logits = _prefill(decoder, input_ids, image_embeds, image_atts, num_return_sequences)
    ids = input_ids.repeat_interleave(num_return_sequences, dim=0)  # (B*n, T0)
    return _sample(decoder, cache, logits, ids, max_length, pad_token_id, proc, warp, generator)


def _prefill(
    decoder: MEDDecoder,
    input_ids: torch.Tensor,
    image_embeds: torch.Tensor,
    image_atts: Optional[torch.Tensor],
    r: int,
) -> tuple[MEDCache, torch.Tensor]:
    """Run the prompt once per image, then give each image r rows (beams or samples) that
    share its cross-attention keys/values. Returns the cache and the (B*r, V) next logits."""
    cache = MEDCache()
    logits = decoder(input_ids, image_embeds=image_embeds, image_atts=image_atts, cache=cache)
    rows = torch.arange(input_ids.shape[0], device=input_ids.device).repeat_interleave(r)
    cache.reorder(rows)  # self-attention state (B*r, ...); image keys/values stay (B, ...)
    return cache, logits[:, -1].float().repeat_interleave(r, dim=0)  # (B*r, V)


def _sample(
    decoder: MEDDecoder,
    cache: MEDCache,
    logits: torch.Tensor,
    ids: torch.Tensor,
    max_length: int,
    pad_token_id: int,
    proc: dict,
    warp: Optional[dict],
    generator: Union[torch.Generator, torch.Tensor, None],
) -> torch.Tensor:
    """transformers' ``_sample``: greedy when ``warp`` is None, else multinomial sampling of
    every row (finished ones too, so the RNG advances as transformers' does). A tensor
    ``generator`` holds per-row uniforms (R, steps) for :func:`inverse_cdf_draw`."""
    unfinished = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
    step = 0
    while True:
        scores = process_scores(logits, ids, **proc)  # (R, V)
        if warp is None:
            nxt = scores.argmax(dim=-1)
        elif isinstance(generator, torch.Tensor):
            probs = warp_scores(scores, **warp).softmax(dim=-1)
            nxt = inverse_cdf_draw(probs, generator[:, step])  # (R,)
        else:
            probs = warp_scores(scores, **warp).softmax(dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (R,)
        step += 1
        nxt = torch.where(unfinished, nxt, torch.full_like(nxt, pad_token_id))
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        unfinished &= nxt != proc['eos_token_id']
        if ids.shape[1] >= max_length or not bool(unfinished.any()):
            return ids
        logits = decoder(nxt[:, None], cache=cache)[:, -1].float()  # (R, V)


def inverse_cdf_draw(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """One token per row of ``probs`` (R, V) from uniforms ``u`` (R,) in [0, 1): the first
    id whose cumulative probability exceeds ``u`` times the row's total. Ids of zero
    probability are never drawn."""
    cum = probs.double().cumsum(dim=-1)  # (R, V)
    target = u.double()[:, None] * cum[:, -1:]  # (R, 1)
    idx = (cum <= target).sum(dim=-1)  # (R,) first position with cum > target
    V = probs.shape[-1]
    last = V - 1 - (probs > 0).flip(-1).int().argmax(dim=-1)  # (R,) last nonzero id
    return torch.minimum(idx, last)


def _beam_search(
    decoder: MEDDecoder,
    cache: MEDCache,
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    K: int,
    max_length: int,
    length_penalty: float,
    early_stopping: Union[bool, str],
    n_return: int,
    pad_token_id: int,
    proc: dict,
) -> torch.Tensor:
    """transformers 5 ``_beam_search`` (one EOS id), batched over images and beams.

    Each step keeps the 2K best (beam, token) candidates by summed log-prob; the best K that
    do not end (EOS or max_length) run on; ending candidates ranked in the top K enter the K
    finished slots with score ``sum logp / generated_len ** length_penalty``.
    """
    B, T0 = input_ids.shape
    dev = input_ids.device
    S, C = max_length, 2 * K  # static length, candidates per image
    seqs = torch.full((B, K, S), pad_token_id, dtype=torch.long, device=dev)
    seqs[:, :, :T0] = input_ids[:, None]
    run_scores = torch.zeros(B, K, device=dev)
    run_scores[:, 1:] = NEG  # all beams start equal: only beam 0's tokens are candidates
    fin_seqs, fin_scores = seqs.clone(), torch.full((B, K), NEG, device=dev)
    fin_done = torch.zeros(B, K, dtype=torch.bool, device=dev)
    fin_len = torch.zeros(B, K, dtype=torch.long, device=dev)  # generated tokens
    top_k_mask = torch.arange(C, device=dev) < K  # (C,) only top-K candidates may finish
    improvable = torch.ones(B, 1, dtype=torch.bool, device=dev)
    offset = torch.arange(B, device=dev)[:, None] * K  # (B, 1) flat row of beam 0
    cur = T0
    while True:
        logp = process_scores(
            F.log_softmax(logits, dim=-1), seqs.view(B * K, S)[:, :cur], **proc
        )  # (B*K, V)
        V = logp.shape[-1]
        logp = logp.view(B, K, V) + run_scores[:, :, None]
        cand_scores, cand = torch.topk(logp.view(B, K * V), C)  # (B, C), sorted
        cand_beam, cand_tok = cand // V, cand % V
        cand_seqs = seqs.take_along_dim(cand_beam[:, :, None], dim=1)  # (B, C, S)
        cand_seqs[:, :, cur] = cand_tok
        ends = (cand_tok == proc['eos_token_id']) | (cur + 1 >= S)  # (B, C)

        # running beams: the K best candidates that do not end
        run_cand = cand_scores + ends.float() * NEG
        keep = torch.topk(run_cand, K)[1]  # (B, K)
        seqs = cand_seqs.take_along_dim(keep[:, :, None], dim=1)  # (B, K, S)
        run_scores = run_cand.gather(1, keep)
        beam_src = cand_beam.gather(1, keep)

        # finished hypotheses: merge the newly ended top-K candidates into the K slots
        just_done = ends & top_k_mask
        new = cand_scores / ((cur + 1 - T0) ** length_penalty)
        if early_stopping is True:
            new = new + fin_done.all(dim=-1, keepdim=True).float() * NEG
        new = new + (~improvable).float() * NEG
        new = new + (~just_done) * NEG
        merged = torch.cat([fin_scores, new], dim=1)  # (B, K + C)
        best = torch.topk(merged, K)[1]  # (B, K)
        fin_scores = merged.gather(1, best)
        fin_seqs = torch.cat([fin_seqs, cand_seqs], 1).take_along_dim(best[:, :, None], 1)
        fin_done = torch.cat([fin_done, just_done], dim=1).gather(1, best)
        new_len = torch.full_like(cand_tok, cur + 1 - T0)
        fin_len = torch.cat([fin_len, new_len], dim=1).gather(1, best)

        cur += 1
        improvable = improvable & _may_improve(
            run_scores, fin_scores, fin_done, cur - T0, S - T0, length_penalty, early_stopping
        )
        open_beam = not (early_stopping is True and bool(fin_done.all()))
        if not (bool(improvable.any()) and open_beam and not bool(ends.all())):
            break
        cache.reorder((beam_src + offset).flatten())  # (B*K,) surviving beams' rows
        logits = decoder(seqs[:, :, cur - 1].reshape(B * K, 1), cache=cache)[:, -1].float()

    out = fin_seqs[:, :n_return].reshape(B * n_return, S)
    lengths = fin_len[:, :n_return].reshape(-1)  # (B*n,)
    out = out[:, : T0 + int(lengths.max())]
    pos = torch.arange(out.shape[1], device=dev)
    return out.masked_fill(pos[None] >= T0 + lengths[:, None], pad_token_id)


def _may_improve(
    run_scores: torch.Tensor,
    fin_scores: torch.Tensor,
    fin_done: torch.Tensor,
    gen_len: int,
    max_gen_len: int,
    length_penalty: float,
    early_stopping: Union[bool, str],
) -> torch.Tensor:
    """transformers' ``_check_early_stop_heuristic``: (B, 1) whether the best running beam,
    scored at its current length (or max_length for 'never' with a positive penalty), beats
    the worst finished hypothesis, or a finished slot is still empty."""
    if early_stopping == 'never' and length_penalty > 0.0:
        gen_len = max_gen_len
    best_running = run_scores[:, :1] / (gen_len**length_penalty)  # (B, 1)
    worst_done = torch.where(fin_done, fin_scores.min(dim=1, keepdim=True)[0], NEG)  # (B, K)
    return (best_running > worst_done).any(dim=-1, keepdim=True)
