"""BlipVQA against transformers' BlipForQuestionAnswering with the same (converted) weights.

Both models are fed the same token ids, ``[ENC]`` first as the official model (transformers'
processor would put ``[CLS]`` there). The random weights are scaled up and the EOS logit
biased so that answers depend on the image and the question and beams end at different
steps; the tests check that dependence, so they cannot pass on constant outputs.
"""

import math

import pytest
import torch
from transformers import BlipConfig, BlipForQuestionAnswering

from blip_plugin.models.blip.vqa import BlipVQA
from blip_plugin.models.convert import convert_state_dict
from blip_plugin.models.weights import load_blip_weights

WORDS = [
    '[PAD]',
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    'what',
    'color',
    'is',
    'the',
    'shape',
    'how',
    'many',
    'are',
    'there',
    'on',
    'left',
    'right',
    '?',
    'red',
    'blue',
    'green',
    'yes',
    'no',
    'one',
    'two',
    'three',
    'square',
    'circle',
    'triangle',
    'big',
    'small',
]
QUESTIONS = [
    'what color is the shape on the left?',
    'how many are there?',
    'is there a red square on the right?',
    'what shape is big?',
]
IMG, B = 32, len(QUESTIONS)


def scramble_(model: torch.nn.Module, gain: float, eos_bias: float, eos_id: int) -> None:
    """Weights of std gain/sqrt(fan_in), jittered LayerNorms, an EOS bias on the LM head."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'norm' in name.lower() and name.endswith('weight'):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * gain / math.sqrt(p[0].numel()))
        model.text_decoder.cls.predictions.bias[eos_id] += eos_bias


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    vocab = tmp_path_factory.mktemp('vqa_vocab')
    (vocab / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    ours = BlipVQA(
        vision_encoder=dict(
            type='BlipViT',
            arch=dict(embed_dim=32, depth=2, num_heads=2),
            img_size=IMG,
            patch_size=8,
        ),
        med_config=dict(
            vocab_size=len(WORDS) + 2,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            dropout=0.0,
        ),
        tokenizer=dict(name_or_path=str(vocab)),
        inference='generate',
    ).eval()
    tok = ours.tokenizer
    cfg = BlipConfig(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=32,
            encoder_hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=64,
            bos_token_id=tok.bos_token_id,
            sep_token_id=tok.sep_token_id,
            eos_token_id=tok.sep_token_id,
            pad_token_id=tok.pad_token_id,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=IMG,
            patch_size=8,
            layer_norm_eps=1e-6,
        ),
    )
    torch.manual_seed(0)
    hf = BlipForQuestionAnswering(cfg).eval()
    scramble_(hf, gain=1.5, eos_bias=2.0, eos_id=tok.sep_token_id)
    sd = hf.state_dict()
    result = load_blip_weights(ours, convert_state_dict(sd, 'hf'))
    assert not result['missing'] and not result['unexpected']
    images = torch.randn(B, 3, IMG, IMG, generator=torch.Generator().manual_seed(1))
    return ours, hf, images


def hf_states(
    hf: BlipForQuestionAnswering, images: torch.Tensor, ids: torch.Tensor, atts: torch.Tensor
) -> torch.Tensor:
    img = hf.vision_model(pixel_values=images).last_hidden_state
    return hf.text_encoder(
        input_ids=ids,
        attention_mask=atts,
        encoder_hidden_states=img,
        encoder_attention_mask=torch.ones(img.shape[:2], dtype=torch.long),
    ).last_hidden_state


def test_question_states_and_decoder_logits_match(models):
    """Decoder logits as transformers' over all question states (the official/HF generate
    mask), and, with padding masked, as transformers' fed each question's real states only.
    (transformers 5.x drops BLIP's cross-attention mask: BlipTextAttention hands it to
    BlipTextSelfAttention as ``attention_mask``, which cross-attention ignores; truncating the
    states is the version-independent reference.)"""
    ours, hf, images = models
    q_ids, q_atts = ours.tokenize_questions(QUESTIONS)
    assert (q_ids[:, 0] == ours.tokenizer.enc_token_id).all() and not q_atts.all()
    a_ids, a_atts = ours.tokenize_answers(['red', 'two', 'no', 'big triangle'])
    ones = torch.ones_like(q_atts)
    with torch.no_grad():
        states = ours.encode_question(q_ids, q_atts, ours.encode_image(images))
        logits_all = ours.text_decoder(a_ids, a_atts, states, ones)
        logits_masked = ours.text_decoder(a_ids, a_atts, states, q_atts)
        ref_states = hf_states(hf, images, q_ids, q_atts)
        ref_all = hf.text_decoder(
            input_ids=a_ids,
            attention_mask=a_atts,
            encoder_hidden_states=ref_states,
            encoder_attention_mask=ones,
        ).logits
        ref_masked = [
            hf.text_decoder(
                input_ids=a_ids[b : b + 1],
                attention_mask=a_atts[b : b + 1],
                encoder_hidden_states=ref_states[b : b + 1, :n],
            ).logits[0]
            for b, n in enumerate(q_atts.sum(1).tolist())
        ]
        other = hf_states(hf, images.flip(0), q_ids, q_atts)  # another image per question
    real = q_atts.bool()
    torch.testing.assert_close(states[real], ref_states[real], atol=1e-4, rtol=0)
    for b in range(B):  # positions past an answer's end are padding
        n = int(a_atts[b].sum())
        torch.testing.assert_close(logits_all[b, :n], ref_all[b, :n], atol=1e-4, rtol=0)
        torch.testing.assert_close(logits_masked[b, :n], ref_masked[b][:n], atol=1e-4, rtol=0)
    # outputs depend on the image and on the question padding: wrong mappings or a lost
    # mask could not pass
    assert (other[real] - ref_states[real]).abs().max() > 0.1
    assert (logits_all - logits_masked).abs().max() > 0.01


@pytest.mark.parametrize('strategy', ['greedy', 'beam'])
def test_generated_answers_match_on_a_padded_batch(models, strategy):
    """With ``attend_question_padding`` (the official/HF all-ones mask) a padded batch gives
    transformers' answers."""
    ours, hf, images = models
    kw = dict(num_beams=3 if strategy == 'beam' else 1, max_length=10, min_length=1)
    q_ids, q_atts = ours.tokenize_questions(QUESTIONS)
    ref_ids = hf.generate(input_ids=q_ids, pixel_values=images, attention_mask=q_atts, **kw)
    ref = ours.tokenizer.batch_decode(ref_ids, skip_special_tokens=True)
    ours.attend_question_padding = True
    try:
        out = ours.answer(images, QUESTIONS, method='generate', strategy=strategy, **kw)
    finally:
        ours.attend_question_padding = False
    assert out == ref
    assert len(set(out)) > 1 and all(out), out  # question/image dependent, not empty


def test_masked_padding_equals_unpadded_questions(models):
    """By default padding is masked: each answer is transformers' answer to its question
    without padding, whatever else shares the batch (transformers is run on groups of
    questions of one token length)."""
    ours, hf, images = models
    kw = dict(num_beams=3, max_length=10, min_length=1)
    out = ours.answer(images, QUESTIONS, method='generate', **kw)
    q_ids, q_atts = ours.tokenize_questions(QUESTIONS)
    lengths = q_atts.sum(1)
    assert len(set(lengths.tolist())) > 1  # the batch is padded
    ref = [None] * B
    for n in set(lengths.tolist()):
        rows = (lengths == n).nonzero()[:, 0]
        ids = hf.generate(
            input_ids=q_ids[rows, :n],
            pixel_values=images[rows],
            attention_mask=q_atts[rows, :n],
            **kw,
        )
        for r, text in zip(
            rows.tolist(), ours.tokenizer.batch_decode(ids, skip_special_tokens=True)
        ):
            ref[r] = text
    assert out == ref
    assert len(set(out)) > 1, out
