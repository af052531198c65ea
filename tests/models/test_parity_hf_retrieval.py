"""BlipRetrieval against transformers' BlipForImageTextRetrieval with the same weights.

The HF model is saved with ``save_pretrained`` (a directory holding ``model.safetensors``) and
loaded into our model by :func:`load_blip_weights`, which detects the format, converts the keys
and starts the momentum twins as copies (HF keeps no training state). Both models get the same
token ids: ``[CLS]`` first for ITC, ``[ENC]`` first for ITM as the official model
(transformers' processor leaves ``[CLS]`` there, so HF is given the ``[ENC]`` ids explicitly).
The random weights are scaled up (HF's default vision init makes image features nearly
image-independent); the tests check that scores depend on the image and on the text, so they
cannot pass on constant outputs.
"""

import copy
import math

import pytest
import torch
from mmpretrain.structures import DataSample
from transformers import BlipConfig, BlipForImageTextRetrieval

from blip_plugin.models.blip.retrieval import BlipRetrieval
from blip_plugin.models.convert import convert_state_dict
from blip_plugin.models.weights import load_blip_weights

WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
WORDS += 'a the red blue green circle square triangle on left right of above big small'.split()
TEXTS = [
    'a red circle',
    'the big blue square on the left',
    'small green triangle',
    'a circle above a square',
    'red',
    'the triangle on the right of a big green circle',
]
IMG, B, EMBED = 32, 3, 16


def scramble_(model: torch.nn.Module, gain: float) -> None:
    """Weights of std gain/sqrt(fan_in), class/position embeddings of std 0.5, jittered
    LayerNorms and small random biases."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'norm' in name.lower() and name.endswith('weight'):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim == 3:  # class and position embeddings (1, n, D)
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * gain / math.sqrt(p[0].numel()))


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp('retrieval_parity')
    (root / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    torch.manual_seed(0)
    ours = BlipRetrieval(
        vision_encoder=dict(
            type='BlipViT',
            arch=dict(embed_dim=32, depth=2, num_heads=2),
            img_size=IMG,
            patch_size=8,
        ),
        med_config=dict(
            vocab_size=len(WORDS) + 2,  # + [DEC], [ENC]
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            dropout=0.0,
        ),
        tokenizer=dict(name_or_path=str(root)),
        embed_dim=EMBED,
        queue_size=8,
        max_txt_len=16,
        k_test=4,
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
            layer_norm_eps=1e-6,  # the official ViT's (HF's default is 1e-5)
        ),
        image_text_hidden_size=EMBED,
    )
    hf = BlipForImageTextRetrieval(cfg).eval()
    scramble_(hf, gain=1.5)
    hf.save_pretrained(root / 'hf')
    assert (root / 'hf' / 'model.safetensors').is_file()
    result = load_blip_weights(ours, str(root / 'hf'))
    assert result['format'] == 'hf' and not result['missing'] and not result['unexpected']
    # the momentum twins start as copies of the online modules
    for online, twin in ours.momentum_pairs:
        for p, p_m in zip(online.parameters(), twin.parameters()):
            assert torch.equal(p, p_m)
    images = torch.randn(B, 3, IMG, IMG, generator=torch.Generator().manual_seed(1))
    return ours, hf, images


def hf_itm_probs(hf, images: torch.Tensor, ids: torch.Tensor, atts: torch.Tensor) -> torch.Tensor:
    """HF match probabilities of texts (r * B, L), r consecutive per image (B, 3, H, W)."""
    pixels = images.repeat_interleave(ids.shape[0] // images.shape[0], dim=0)
    out = hf(input_ids=ids, attention_mask=atts, pixel_values=pixels, use_itm_head=True)
    return out.itm_score.softmax(dim=1)[:, 1]


def test_itc_similarities_match(models):
    ours, hf, images = models
    ids, atts = ours.tokenize(TEXTS)
    assert (ids[:, 0] == ours.tokenizer.cls_token_id).all() and not atts.all()
    with torch.no_grad():
        sims = ours.itc_similarity(images, TEXTS)  # (B, T)
        ref = hf(input_ids=ids, attention_mask=atts, pixel_values=images, use_itm_head=False)
    ref = ref.itm_score  # (B, T) cosine similarities
    assert sims.shape == ref.shape == (B, len(TEXTS))
    diff = (sims - ref).abs().max().item()
    print(f'ITC cosine similarity max |diff| = {diff:.2e}')
    assert diff < 1e-4
    # depends on the image and on the text
    assert (sims - sims[:1]).abs().max() > 0.1 and (sims - sims[:, :1]).abs().max() > 0.1


def test_itm_probabilities_match_with_enc_ids(models):
    ours, hf, images = models
    texts = [t for _ in range(B) for t in TEXTS]  # every image with every text
    ids, atts = ours.tokenize(texts)
    enc_ids = ours.encoder_ids(ids)
    assert (enc_ids[:, 0] == ours.tokenizer.enc_token_id).all()
    with torch.no_grad():
        probs = ours.itm_score(images, texts)  # (B * T,)
        matrix = ours.itm_matrix(images, TEXTS)  # (B, T), cross-attention K/V once per image
        ref = hf_itm_probs(hf, images, enc_ids, atts)
        ref_cls = hf_itm_probs(hf, images, ids, atts)  # what transformers' processor feeds
    diff = (probs - ref).abs().max().item()
    print(f'ITM probability max |diff| = {diff:.2e}')
    assert diff < 1e-4
    grid = probs.view(B, len(TEXTS))
    assert (matrix - grid).abs().max() < 1e-5
    assert (grid - grid[:1]).abs().max() > 0.05  # the image matters
    assert (grid - grid[:, :1]).abs().max() > 0.05  # the text matters
    assert (ref_cls - ref).abs().max() > 1e-3  # [ENC] vs [CLS] is a real difference


def test_rerank_scores_match(models):
    """The split-wide evaluation (ITC top k, ITM re-rank with per-image cross-attention K/V
    computed once) gives ITM logit + ITC similarity as transformers does, where it re-ranks."""
    ours, hf, images = models
    per_image = len(TEXTS) // B
    samples = [
        DataSample(
            image_idx=i,
            gt_caption=TEXTS[i * per_image : (i + 1) * per_image],
            text_idx=list(range(i * per_image, (i + 1) * per_image)),
        )
        for i in range(B)
    ]
    with torch.no_grad():
        feats = ours.extract_feat(images, samples)
        scores = ours.retrieval_scores(feats, distributed=False)
        ids, atts = ours.tokenize([t for _ in range(B) for t in TEXTS])
        pixels = images.repeat_interleave(len(TEXTS), dim=0)
        logits = hf(
            input_ids=ours.encoder_ids(ids),
            attention_mask=atts,
            pixel_values=pixels,
            use_itm_head=True,
        ).itm_score[:, 1]
        sims = hf(
            input_ids=ids[: len(TEXTS)],
            attention_mask=atts[: len(TEXTS)],
            pixel_values=images,
            use_itm_head=False,
        ).itm_score
    ref = logits.view(B, len(TEXTS)) + sims  # (B, T)
    i2t, t2i = scores['i2t_scores'], scores['t2i_scores']
    assert ((i2t > -100).sum(1) == ours.k_test).all()  # top k_test of each image re-ranked
    kept = i2t > -100
    assert (i2t[kept] - ref[kept]).abs().max() < 1e-4
    kept = t2i > -100
    assert (t2i[kept] - ref.t()[kept]).abs().max() < 1e-4


def test_real_widths_two_layers(tmp_path):
    """BlipConfig() widths (ViT-B/16 at 384 px, BERT-base text, 30524 words, 256-dim ITC),
    two layers each, loaded from a single ``.safetensors`` file."""
    special = ['[PAD]'] + [f'[unused{i}]' for i in range(99)] + ['[UNK]', '[CLS]', '[SEP]']
    words = special + ['[MASK]'] + [f'w{i}' for i in range(30522 - len(special) - 1)]
    (tmp_path / 'vocab.txt').write_text('\n'.join(words) + '\n')
    cfg = BlipConfig()
    cfg.vision_config.num_hidden_layers = cfg.text_config.num_hidden_layers = 2
    cfg.text_config.num_attention_heads = 12  # the released models' (BlipTextConfig: 8)
    torch.manual_seed(0)
    hf = BlipForImageTextRetrieval(cfg).eval()
    scramble_(hf, gain=1.5)
    hf.save_pretrained(tmp_path / 'hf')
    ours = BlipRetrieval(
        vision_encoder=dict(
            type='BlipViT',
            arch=dict(embed_dim=768, depth=2, num_heads=12),
            img_size=384,
            patch_size=16,
            layer_norm_eps=cfg.vision_config.layer_norm_eps,  # HF's 1e-5
        ),
        med_config=dict(num_layers=2, dropout=0.0),  # the MEDConfig defaults are BERT-base
        tokenizer=dict(name_or_path=str(tmp_path)),
        queue_size=8,
    ).eval()
    assert len(ours.tokenizer) == cfg.text_config.vocab_size
    load_blip_weights(ours, str(tmp_path / 'hf' / 'model.safetensors'))
    texts = ['w1 w2 w3 w4', 'w5 w6', 'w7 w8 w9 w10 w11 w12']
    images = torch.randn(2, 3, 384, 384, generator=torch.Generator().manual_seed(2))
    ids, atts = ours.tokenize(texts)
    with torch.no_grad():
        sims = ours.itc_similarity(images, texts)
        ref_sims = hf(
            input_ids=ids, attention_mask=atts, pixel_values=images, use_itm_head=False
        ).itm_score
        probs = ours.itm_matrix(images, texts)  # (2, 3)
        ref_probs = hf_itm_probs(
            hf, images, ours.encoder_ids(ids).repeat(2, 1), atts.repeat(2, 1)
        ).view(2, 3)
    itc_diff = (sims - ref_sims).abs().max().item()
    itm_diff = (probs - ref_probs).abs().max().item()
    print(f'real widths: ITC max |diff| = {itc_diff:.2e}, ITM max |diff| = {itm_diff:.2e}')
    assert itc_diff < 1e-4 and itm_diff < 1e-4
    assert (probs[0] - probs[1]).abs().max() > 1e-3 and (sims[0] - sims[1]).abs().max() > 1e-3


def test_partial_training_state_is_an_error(models):
    """Only a twin that is wholly absent is filled; part of one missing is still an error."""
    ours, hf, _ = models
    sd = convert_state_dict(hf.state_dict(), 'hf')
    sd['vision_proj_m.weight'] = torch.zeros_like(sd['vision_proj.weight'])  # bias missing
    with pytest.raises(ValueError, match=r"'vision_proj_m\.bias'"):
        load_blip_weights(copy.deepcopy(ours), sd)
