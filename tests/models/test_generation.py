"""generate() against transformers' generate on the Hugging Face BLIP decoder.

transformers' ``BlipTextLMHeadModel`` gets random weights scaled up (so that images matter and
beams diverge) and an EOS bias (so that some beams end early); the same weights are converted
into our ``MEDDecoder``. Every strategy must give the same token ids. transformers 5 fills
beam outputs after EOS with the EOS id when pad_token_id == 0 (``pad_token_id or eos`` in
``_beam_search``); we pad with pad_token_id as transformers 4 did, so HF rows are compared
after the first EOS is followed only by padding.
"""

import math

import pytest
import torch
from transformers import BlipTextConfig
from transformers.generation.logits_process import (
    MinLengthLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.models.blip.modeling_blip_text import BlipTextLMHeadModel

from blip_plugin.models.convert import convert_state_dict
from blip_plugin.models.generation import generate, process_scores, warp_scores
from blip_plugin.models.med.decoder import MEDDecoder

V, BOS, SEP, PAD = 100, 98, 3, 0
W, N_IMG, B = 48, 17, 5  # image width, image tokens, images per batch
PROMPT = [BOS, 10, 11, 12]


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """Tiny models: extra threads only add synchronisation, and stall on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def scramble_(model: torch.nn.Module, gain: float, eos_bias: float, eos_id: int) -> None:
    """Random weights of std gain/sqrt(fan_in) (unit LayerNorms jittered), plus an EOS bias."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'norm' in name.lower() and name.endswith('weight'):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif p.ndim == 1:
                p.normal_(0, 0.1)
            else:
                p.normal_(0, gain / math.sqrt(p[0].numel()))
        bias = next(p for n, p in model.named_parameters() if n.endswith('predictions.bias'))
        bias[eos_id] += eos_bias


def med_config(cfg: BlipTextConfig) -> dict:
    """Our MED dimensions from a transformers BlipTextConfig."""
    return dict(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_hidden_layers,
        num_heads=cfg.num_attention_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.max_position_embeddings,
        encoder_width=cfg.encoder_hidden_size,
        layer_norm_eps=cfg.layer_norm_eps,
        pad_token_id=cfg.pad_token_id,
    )


def hf_padded(out: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """transformers' output with whatever follows each row's first EOS set to PAD; checks that
    only EOS or PAD followed it."""
    gen = out[:, prompt_len:]
    after = (gen == SEP).long().cumsum(1) - (gen == SEP).long() > 0  # past the first EOS
    assert bool(((gen == SEP) | (gen == PAD))[after].all())
    return torch.cat([out[:, :prompt_len], gen.masked_fill(after, PAD)], dim=1)


@pytest.fixture(scope='module')
def models():
    torch.manual_seed(0)
    cfg = BlipTextConfig(
        vocab_size=V,
        hidden_size=32,
        encoder_hidden_size=W,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
        bos_token_id=BOS,
        sep_token_id=SEP,
        pad_token_id=PAD,
        eos_token_id=SEP,
    )
    hf = BlipTextLMHeadModel(cfg).eval()
    scramble_(hf, gain=1.5, eos_bias=3.0, eos_id=SEP)
    ours = MEDDecoder(med_config(cfg)).eval()
    sd = convert_state_dict({'text_decoder.' + k: v for k, v in hf.state_dict().items()}, 'hf')
    ours.load_state_dict({k[len('text_decoder.') :]: v for k, v in sd.items()})
    images = torch.randn(B, N_IMG, W)
    atts = torch.ones(B, N_IMG, dtype=torch.long)  # see test_image_mask_equals_truncation
    return hf, ours, images, atts


def run_ours(models, strategy: str, seed: int = 0, **kw) -> torch.Tensor:
    _, ours, images, atts = models
    kw = dict(dict(max_length=20, min_length=5), **kw)
    return generate(
        ours,
        torch.tensor([PROMPT] * B),
        images,
        image_atts=atts,
        eos_token_id=SEP,
        pad_token_id=PAD,
        strategy=strategy,
        generator=torch.Generator().manual_seed(seed),
        **kw,
    )


def run_both(models, strategy: str, seed: int = 0, **kw) -> tuple:
    hf, _, images, atts = models
    prompt = torch.tensor([PROMPT] * B)
    kw = dict(dict(max_length=20, min_length=5), **kw)
    hf_kw = dict(kw, do_sample=strategy == 'sample')
    if strategy == 'beam':
        hf_kw.setdefault('num_beams', 3)
    if strategy == 'sample':
        hf_kw.setdefault('top_p', 0.9)
    torch.manual_seed(seed)
    ref = hf.generate(
        input_ids=prompt,
        encoder_hidden_states=images,
        encoder_attention_mask=atts,
        eos_token_id=SEP,
        pad_token_id=PAD,
        **hf_kw,
    )
    return hf_padded(ref, len(PROMPT)), run_ours(models, strategy, seed, **kw)


def test_processors_match_transformers():
    torch.manual_seed(0)
    scores, ids = torch.randn(6, V) * 3, torch.randint(0, V, (6, 7))
    for penalty, min_len in [(1.3, 9), (0.8, 3), (1.0, 8)]:
        ref = MinLengthLogitsProcessor(min_len, SEP)(ids, scores)
        if penalty != 1.0:
            ref = MinLengthLogitsProcessor(min_len, SEP)(
                ids, RepetitionPenaltyLogitsProcessor(penalty)(ids, scores)
            )
        assert torch.equal(process_scores(scores, ids, SEP, min_len, penalty), ref)
    for temp, top_k, top_p, keep in [(0.7, 50, 0.9, 1), (1.0, 0, 0.5, 2), (1.3, 5, 1.0, 1)]:
        ref = scores
        if temp != 1.0:
            ref = TemperatureLogitsWarper(temp)(ids, ref)
        if top_k:
            ref = TopKLogitsWarper(top_k, min_tokens_to_keep=keep)(ids, ref)
        if top_p < 1.0:
            ref = TopPLogitsWarper(top_p, min_tokens_to_keep=keep)(ids, ref)
        assert torch.equal(warp_scores(scores, temp, top_k, top_p, keep), ref)


def test_greedy_matches_transformers(models):
    for kw in [{}, dict(repetition_penalty=1.5, min_length=9)]:
        ref, out = run_both(models, 'greedy', **kw)
        assert torch.equal(out, ref), kw


@pytest.mark.parametrize(
    'kw',
    [
        {},
        dict(repetition_penalty=1.5),
        dict(repetition_penalty=0.7),
        dict(min_length=10),
        dict(length_penalty=0.0),
        dict(length_penalty=2.0),
        dict(length_penalty=-1.0, max_length=14),
        dict(num_beams=4, num_return_sequences=3),
        dict(num_beams=5, early_stopping=True),
        dict(num_beams=2, early_stopping='never', length_penalty=1.5),
    ],
)
def test_beam_matches_transformers(models, kw):
    ref, out = run_both(models, 'beam', **kw)
    assert out.shape == ref.shape and torch.equal(out, ref), (ref, out)


@pytest.mark.parametrize(
    'kw',
    [
        {},
        dict(repetition_penalty=1.1),
        dict(temperature=0.7, top_p=0.5, num_return_sequences=3),
        dict(top_k=0, top_p=1.0),
        dict(top_k=5, min_length=12),
    ],
)
def test_sample_matches_transformers(models, kw):
    """transformers draws torch.multinomial over all rows once a step, finished ones too; so
    do we, so one seed gives the same ids."""
    for seed in range(2):
        ref, out = run_both(models, 'sample', seed=seed, **kw)
        assert torch.equal(out, ref), (seed, ref, out)


def test_cases_are_sensitive(models):
    """The parity cases above could not pass by accident: beams end early and late, beam
    search differs from greedy, and the length penalty and min_length change the result."""
    beam, greedy = run_ours(models, 'beam'), run_ours(models, 'greedy')
    assert not torch.equal(beam, greedy)
    assert bool((beam[:, len(PROMPT) :] == SEP).any()) and bool((beam[:, -1] != PAD).any())
    outs = [run_ours(models, 'beam', length_penalty=lp) for lp in (0.0, 1.0, 2.0)]
    assert not torch.equal(outs[0], outs[1]) and not torch.equal(outs[1], outs[2])
    assert not torch.equal(run_ours(models, 'beam', min_length=10), beam)
    assert not torch.equal(run_ours(models, 'beam', repetition_penalty=1.5), beam)


def test_batch_rows_are_independent(models):
    """Images sharing a batch (and their beams sharing image keys/values) do not interact."""
    _, ours, images, atts = models
    prompt = torch.tensor([PROMPT] * B)
    kw = dict(eos_token_id=SEP, pad_token_id=PAD, num_beams=3, num_return_sequences=2)
    batch = generate(ours, prompt, images, image_atts=atts, **kw)
    for i in range(B):
        one = generate(ours, prompt[i : i + 1], images[i : i + 1], image_atts=atts[i : i + 1], **kw)
        assert torch.equal(batch[2 * i : 2 * i + 2, : one.shape[1]], one)
        assert bool((batch[2 * i : 2 * i + 2, one.shape[1] :] == PAD).all())


def test_image_mask_equals_truncation(models):
    """Masked image tokens are invisible. (Not compared with transformers: 5.x's BLIP text
    layers drop ``encoder_attention_mask`` on the way to cross-attention, modeling_blip_text.py
    BlipTextLayer -> BlipTextAttention -> BlipTextSelfAttention.)"""
    _, ours, images, _ = models
    prompt = torch.tensor([PROMPT] * 2)
    atts = torch.ones(2, N_IMG, dtype=torch.long)
    atts[0, 9:] = 0
    kw = dict(eos_token_id=SEP, pad_token_id=PAD, num_beams=3)
    masked = generate(ours, prompt, images[:2], image_atts=atts, **kw)
    cut = generate(ours, prompt[:1], images[:1, :9], **kw)
    assert torch.equal(masked[:1, : cut.shape[1]], cut)
    assert not torch.equal(masked[:1], generate(ours, prompt[:1], images[:1], **kw))
    one = generate(ours, prompt[1:], images[1:2], **kw)
    assert torch.equal(masked[1:, : one.shape[1]], one)


def test_bad_arguments_are_named(models):
    _, ours, images, _ = models
    prompt = torch.tensor([PROMPT] * B)
    kw = dict(eos_token_id=SEP, pad_token_id=PAD)
    with pytest.raises(ValueError, match='strategy'):
        generate(ours, prompt, images, strategy='topk', **kw)
    with pytest.raises(ValueError, match='num_return_sequences'):
        generate(ours, prompt, images, num_beams=2, num_return_sequences=3, **kw)
    with pytest.raises(ValueError, match='max_length'):
        generate(ours, prompt, images, max_length=4, **kw)
    with pytest.raises(ValueError, match='images'):
        generate(ours, prompt, images[:2], **kw)
