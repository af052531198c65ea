"""BlipCaption against transformers' BlipForConditionalGeneration, from pixels to captions.

The HF model gets random weights scaled up (its default vision init of std 1e-10 makes image
features nearly image-independent), an EOS bias so that some captions end early, and is
converted with ``convert_state_dict``. Logits must agree within 1e-4 and generated ids must be
identical (after EOS: see tests/models/test_generation.py on transformers 5's EOS filling).
"""

import math

import pytest
import torch
from transformers import BlipConfig, BlipForConditionalGeneration

from blip_plugin.models import BlipCaption, BlipViT, MEDDecoder, convert_state_dict, generate

WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'picture', 'of', 'cat', 'dog']
WORDS += [f'w{i}' for i in range(96 - len(WORDS))]  # + [DEC] 96, [ENC] 97
V, DEC, SEP, PAD = 100, 96, 3, 0


@pytest.fixture
def one_thread():
    """Tiny models: extra threads only add synchronisation, and stall on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def scramble_(model: torch.nn.Module, gain: float, eos_bias: float, eos_id: int) -> None:
    """Random weights of std gain/sqrt(fan_in), class/position embeddings of std 0.5, jittered
    LayerNorms, and an EOS bias in the LM head."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'norm' in name.lower() and name.endswith('weight'):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif p.ndim == 1:
                p.normal_(0, 0.1)
            elif p.ndim == 3:  # class and position embeddings (1, n, D)
                p.normal_(0, 0.5)
            else:
                p.normal_(0, gain / math.sqrt(p[0].numel()))
        model.text_decoder.cls.predictions.bias[eos_id] += eos_bias


def our_parts(cfg: BlipConfig) -> tuple[dict, dict]:
    """Configs of our ViT and decoder with the dimensions of a transformers BlipConfig (the
    vision LayerNorm epsilon too: HF's 1e-5, not the official 1e-6)."""
    vc, tc = cfg.vision_config, cfg.text_config
    vit = dict(
        type='BlipViT',
        arch=dict(
            embed_dim=vc.hidden_size, depth=vc.num_hidden_layers, num_heads=vc.num_attention_heads
        ),
        img_size=vc.image_size,
        patch_size=vc.patch_size,
        mlp_ratio=vc.intermediate_size / vc.hidden_size,
        layer_norm_eps=vc.layer_norm_eps,
    )
    dec = dict(
        type='MEDDecoder',
        config=dict(
            vocab_size=tc.vocab_size,
            hidden_size=tc.hidden_size,
            num_layers=tc.num_hidden_layers,
            num_heads=tc.num_attention_heads,
            intermediate_size=tc.intermediate_size,
            max_position_embeddings=tc.max_position_embeddings,
            encoder_width=tc.encoder_hidden_size,
            layer_norm_eps=tc.layer_norm_eps,
            pad_token_id=tc.pad_token_id,
        ),
    )
    return vit, dec


def build_pair(cfg: BlipConfig, gain: float, eos_bias: float) -> tuple:
    """(HF model, our ViT, our decoder) with the same weights."""
    hf = BlipForConditionalGeneration(cfg).eval()
    scramble_(hf, gain, eos_bias, cfg.text_config.sep_token_id)
    sd = convert_state_dict(hf.state_dict())
    vit_cfg, dec_cfg = our_parts(cfg)
    vit_cfg.pop('type'), dec_cfg.pop('type')
    vit, dec = BlipViT(**vit_cfg).eval(), MEDDecoder(**dec_cfg).eval()
    vit.load_state_dict(
        {k[len('vision_encoder.') :]: v for k, v in sd.items() if k.startswith('vision_encoder.')}
    )
    dec.load_state_dict(
        {k[len('text_decoder.') :]: v for k, v in sd.items() if k.startswith('text_decoder.')}
    )
    return hf, vit, dec


def hf_padded(out: torch.Tensor, prompt_len: int, eos: int) -> torch.Tensor:
    """transformers' ids with what follows each row's first EOS (EOS or PAD) set to PAD."""
    gen = out[:, prompt_len:]
    after = (gen == eos).long().cumsum(1) - (gen == eos).long() > 0
    assert bool(((gen == eos) | (gen == PAD))[after].all())
    return torch.cat([out[:, :prompt_len], gen.masked_fill(after, PAD)], dim=1)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """HF model and a BlipCaption (tokenizer from a tiny vocab) with the same weights."""
    torch.manual_seed(0)
    vocab = tmp_path_factory.mktemp('vocab')
    (vocab / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    cfg = BlipConfig(
        text_config=dict(
            vocab_size=V,
            hidden_size=32,
            encoder_hidden_size=48,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=64,
            bos_token_id=DEC,
            sep_token_id=SEP,
            pad_token_id=PAD,
            eos_token_id=SEP,
        ),
        vision_config=dict(
            hidden_size=48,
            intermediate_size=96,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        ),
    )
    hf = BlipForConditionalGeneration(cfg).eval()
    scramble_(hf, gain=1.5, eos_bias=3.0, eos_id=SEP)
    vit_cfg, dec_cfg = our_parts(cfg)
    model = BlipCaption(vit_cfg, dec_cfg, tokenizer=dict(name_or_path=str(vocab))).eval()
    model.load_state_dict(convert_state_dict(hf.state_dict()))
    assert model.tokenizer.dec_token_id == DEC and model.tokenizer.sep_token_id == SEP
    return hf, model, torch.randn(6, 3, 32, 32)


@pytest.mark.usefixtures('one_thread')
def test_image_embeds_and_padded_logits_match(tiny):
    hf, model, pixels = tiny
    texts = [
        'a picture of a cat',
        'a picture of w3 w4 w5 w6 w7 dog',
        'a picture of',
        'cat w9',
        'a dog',
        'w1 w2 w3',
    ]
    ids, mask = model._tokenize([model.prompt + t for t in texts])  # [DEC] ... [SEP] [PAD]
    assert not bool(mask.all())
    with torch.no_grad():
        ref_img = hf.vision_model(pixels)[0]
        ref = hf(pixel_values=pixels, input_ids=ids, attention_mask=mask).logits
        img = model.encode_image(pixels)
        out = model.text_decoder(ids, mask, img)
    assert (img - ref_img).abs().max() < 1e-4
    keep = mask.bool()
    assert (out[keep] - ref[keep]).abs().max() < 1e-4
    # the weights make the image matter: same text, different images, different logits
    assert (out[:, 3] - out[:1, 3]).abs().amax() > 0.5


@pytest.mark.usefixtures('one_thread')
@pytest.mark.parametrize(
    'kw',
    [
        dict(strategy='greedy'),
        dict(strategy='beam'),
        dict(strategy='beam', repetition_penalty=1.5, min_length=8),
        dict(strategy='beam', num_beams=4, num_return_sequences=2, length_penalty=0.5),
        dict(strategy='sample', top_p=0.9),
    ],
)
def test_captions_match_hf(tiny, kw):
    """generate_captions (ids and strings) == BlipForConditionalGeneration.generate with the
    arguments the official BLIP passes (sampling: repetition_penalty 1.1 by default)."""
    hf, model, pixels = tiny
    kw = dict(kw)
    strategy = kw.pop('strategy')
    hf_kw = {**dict(max_length=20, min_length=5), **kw}
    if strategy == 'beam':
        hf_kw.setdefault('num_beams', 3)
    if strategy == 'sample':
        hf_kw.update(do_sample=True, repetition_penalty=1.1)
    prompt = model.tokenizer([model.prompt] * len(pixels), return_tensors='pt').input_ids
    torch.manual_seed(0)
    ref = hf.generate(pixel_values=pixels, input_ids=prompt.clone(), **hf_kw)
    ref = hf_padded(ref, prompt.shape[1] - 1, SEP)
    torch.manual_seed(0)
    captions = model.generate_captions(pixels, strategy=strategy, **kw)
    flat = [c for group in captions for c in group] if isinstance(captions[0], list) else captions
    texts = model.tokenizer.batch_decode(ref, skip_special_tokens=True)
    assert flat == [t[len(model.prompt) :] for t in texts]
    if strategy != 'sample':  # ids too (sampling: the strings above used the global RNG)
        prompt[:, 0] = DEC
        with torch.no_grad():
            out = generate(
                model.text_decoder,
                prompt[:, :-1],
                model.encode_image(pixels),
                eos_token_id=SEP,
                pad_token_id=PAD,
                strategy=strategy,
                **hf_kw,
            )
        assert torch.equal(out, ref)


def _real_config_check(num_layers: int, max_length: int) -> None:
    """BlipConfig() widths (ViT-B/16 at 384 px, BERT-base text, 30524 words), one image."""
    torch.manual_seed(0)
    cfg = BlipConfig()
    cfg.vision_config.num_hidden_layers = cfg.text_config.num_hidden_layers = num_layers
    hf, vit, dec = build_pair(cfg, gain=2.0, eos_bias=8.0)
    tc = cfg.text_config
    pixels = torch.randn(1, 3, 384, 384)
    prompt = torch.tensor([[tc.bos_token_id, 1037, 3861, 1997, tc.sep_token_id]])
    with torch.no_grad():
        img = vit(pixels)
        assert (img - hf.vision_model(pixels)[0]).abs().max() < 1e-4
        ref_logits = hf.text_decoder(input_ids=prompt, encoder_hidden_states=img).logits
        assert (dec(prompt, image_embeds=img) - ref_logits).abs().max() < 1e-4
    for strategy, num_beams in [('greedy', 1), ('beam', 3)]:
        hf_kw = dict(max_length=max_length, min_length=6, num_beams=num_beams)
        ref = hf.generate(pixel_values=pixels, input_ids=prompt.clone(), **hf_kw)
        out = generate(
            dec,
            prompt[:, :-1],
            img,
            eos_token_id=tc.sep_token_id,
            pad_token_id=tc.pad_token_id,
            strategy=strategy,
            **hf_kw,
        )
        assert torch.equal(out, hf_padded(ref, prompt.shape[1] - 1, tc.sep_token_id))


def test_real_config_two_layers():
    _real_config_check(num_layers=2, max_length=9)


@pytest.mark.slow
def test_real_config_full_depth():
    _real_config_check(num_layers=12, max_length=12)
