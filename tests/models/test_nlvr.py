"""BlipNLVR: the twin cross-attention encoder, weights in the official / mmpretrain NLVR2
layouts and from a pre-training checkpoint, loss and prediction."""

import pytest
import torch
from mmpretrain.structures import DataSample

from blip_plugin.models.blip.nlvr import BlipNLVR, split_pair
from blip_plugin.models.convert import convert_state_dict
from blip_plugin.models.med import MEDTransformer
from blip_plugin.models.weights import load_blip_weights

WORDS = ['there', 'is', 'a', 'red', 'blue', 'circle', 'square', 'on', 'the', 'left', 'right']
DIM, LAYERS = 32, 4


@pytest.fixture(scope='module')
def vocab(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('nlvr_vocab')
    (path / 'vocab.txt').write_text(
        '\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + WORDS) + '\n'
    )
    return str(path)


def tiny(vocab: str, seed: int = 0, layers: int = LAYERS) -> BlipNLVR:
    torch.manual_seed(seed)
    model = BlipNLVR(
        vision_encoder=dict(
            type='BlipViT',
            arch=dict(embed_dim=DIM, depth=2, num_heads=2),
            img_size=16,
            patch_size=8,
        ),
        med_config=dict(
            vocab_size=None,
            hidden_size=DIM,
            num_layers=layers,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=32,
            dropout=0.0,
        ),
        tokenizer=dict(name_or_path=vocab),
    )
    with torch.no_grad():  # spread BERT's small init so that images and words matter
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def pairs(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, 32, 16, generator=torch.Generator().manual_seed(seed))


TEXTS = ['there is a red circle on the left', 'a blue square']


def test_merge_layers_in_the_second_half_only(vocab) -> None:
    layers = tiny(vocab).text_encoder.layers
    assert [layer.cross_attn_merge is not None for layer in layers] == [False, False, True, True]
    assert not hasattr(layers[0], 'cross_attn')


def test_equals_single_cross_attention_when_the_twins_agree(vocab) -> None:
    """Both images the same, both twins the same weights, merge = the average: the encoder
    must compute exactly what one MED with that cross-attention computes."""
    model = tiny(vocab)
    enc = model.text_encoder
    single = MEDTransformer(enc.config)
    sd = {}
    for k, v in enc.state_dict().items():
        if '.cross_attn1.' in k or 'cross_attn_merge' in k:
            continue
        sd[k.replace('.cross_attn0.', '.cross_attn.')] = v
    single.load_state_dict(sd)
    with torch.no_grad():
        for layer in enc.layers:
            layer.cross_attn1.load_state_dict(layer.cross_attn0.state_dict())
            if layer.cross_attn_merge is not None:
                eye = torch.eye(DIM) / 2
                layer.cross_attn_merge.weight.copy_(torch.cat([eye, eye], dim=1))
                layer.cross_attn_merge.bias.zero_()
    ids, atts = model.tokenize(TEXTS)
    embeds = torch.randn(2, 5, DIM)
    got = enc(ids, atts, image_embeds=(embeds, embeds))
    want = single(ids, atts, image_embeds=embeds)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    # and the two images do matter once they differ
    other = enc(ids, atts, image_embeds=(embeds, torch.randn(2, 5, DIM)))
    assert (other - got).abs().max() > 1e-3


def test_uses_both_images_and_their_order(vocab) -> None:
    model = tiny(vocab)
    x = pairs(2)
    top, bottom = split_pair(x)
    swapped = torch.cat([bottom, top], dim=2)
    a, b = model.logits(x, TEXTS), model.logits(swapped, TEXTS)
    assert a.shape == (2, 2)
    assert (a - b).abs().max() > 1e-4  # twin weights differ: order matters


def test_init_std_sets_the_text_encoder_and_head_init(vocab) -> None:
    """``init_std`` (BERT's initializer_range) scales the text encoder's and the head's normal
    init; the ViT keeps its own."""
    kw = dict(
        vision_encoder=dict(
            type='BlipViT',
            arch=dict(embed_dim=DIM, depth=1, num_heads=2),
            img_size=16,
            patch_size=8,
        ),
        med_config=dict(
            vocab_size=None, hidden_size=DIM, num_layers=2, num_heads=2, intermediate_size=64
        ),
        tokenizer=dict(name_or_path=vocab),
    )
    for std in (0.02, 0.07):
        torch.manual_seed(0)
        model = BlipNLVR(init_std=std, **kw)
        enc = model.text_encoder.layers[1]
        for w in (enc.cross_attn0.v.weight, enc.cross_attn_merge.weight, model.cls_head[0].weight):
            assert w.std().item() == pytest.approx(std, rel=0.15)
        assert model.text_encoder.layers[0].cross_attn1.v.bias.abs().max() == 0
        assert model.vision_encoder.blocks[0].attn.qkv.weight.std().item() < 0.03


def test_split_pair_names_the_expected_shape() -> None:
    with pytest.raises(ValueError, match=r'\(B, 3, 2H, W\)'):
        split_pair(torch.zeros(1, 3, 15, 16))


def _official_keys(model: BlipNLVR) -> dict:
    """The model's weights under the official blip_nlvr.py / nlvr_encoder.py names."""
    inv = {
        'self_attn.q': 'attention.self.query',
        'self_attn.k': 'attention.self.key',
        'self_attn.v': 'attention.self.value',
        'self_attn.out': 'attention.output.dense',
        'self_attn_norm': 'attention.output.LayerNorm',
        'cross_attn_norm': 'crossattention.output.LayerNorm',
        'cross_attn_merge': 'crossattention.output.merge_layer',
        'ffn.fc1': 'intermediate.dense',
        'ffn.fc2': 'output.dense',
        'ffn_norm': 'output.LayerNorm',
    }
    for side in '01':
        inv.update(
            {
                f'cross_attn{side}.q': f'crossattention.self{side}.query',
                f'cross_attn{side}.k': f'crossattention.self{side}.key',
                f'cross_attn{side}.v': f'crossattention.self{side}.value',
                f'cross_attn{side}.out': f'crossattention.output.dense{side}',
            }
        )
    out = {}
    for k, v in model.state_dict().items():
        if k.startswith('vision_encoder.') or k.startswith('cls_head.'):
            out[k.replace('vision_encoder.', 'visual_encoder.')] = v
        elif k.startswith('text_encoder.layers.'):
            _, _, n, rest = k.split('.', 3)
            part, wb = rest.rsplit('.', 1)
            out[f'text_encoder.encoder.layer.{n}.{inv[part]}.{wb}'] = v
        else:
            emb = {
                'text_encoder.embeddings.word.weight': 'word_embeddings.weight',
                'text_encoder.embeddings.position.weight': 'position_embeddings.weight',
                'text_encoder.embeddings.norm.weight': 'LayerNorm.weight',
                'text_encoder.embeddings.norm.bias': 'LayerNorm.bias',
            }
            out['text_encoder.embeddings.' + emb[k]] = v
    out['text_encoder.embeddings.position_ids'] = torch.arange(32)[None]
    return out


def test_official_and_mmpretrain_nlvr_checkpoints_load(vocab) -> None:
    src = tiny(vocab, seed=0)
    official = _official_keys(src)
    assert any('crossattention.self1.key' in k for k in official)
    want = src.logits(pairs(2), TEXTS)
    dst = tiny(vocab, seed=5)
    info = load_blip_weights(dst, official)
    assert info['format'] == 'official'
    torch.testing.assert_close(dst.eval().logits(pairs(2), TEXTS), want)
    # mmpretrain: vision_backbone (its ViT names), multimodal_backbone, head.{0,2}
    mm = {}
    for k, v in official.items():
        if k.startswith('text_encoder.'):
            mm['multimodal_backbone.' + k[len('text_encoder.') :]] = v
        elif k.startswith('cls_head.'):
            mm['head.' + k[len('cls_head.') :]] = v
    out = convert_state_dict(mm, 'mmpretrain')
    assert torch.equal(out['cls_head.2.bias'], src.cls_head[2].bias)
    assert torch.equal(
        out['text_encoder.layers.3.cross_attn_merge.weight'],
        src.text_encoder.layers[3].cross_attn_merge.weight,
    )


def test_pretrained_cross_attention_initialises_both_twins(vocab) -> None:
    model = tiny(vocab, seed=3)
    sd = {k: v.clone() for k, v in model.state_dict().items() if 'cross_attn1' not in k}
    for k in [k for k in sd if '.cross_attn0.' in k]:
        sd[k.replace('.cross_attn0.', '.cross_attn.')] = sd.pop(k)
    sd = {k: v for k, v in sd.items() if 'cross_attn_merge' not in k and 'cls_head' not in k}
    sd['itm_head.weight'] = torch.zeros(2, DIM)  # a pre-training part NLVR2 does not use
    fresh = tiny(vocab, seed=4)
    info = load_blip_weights(fresh, sd, fmt='blip_plugin', strict=False)
    assert info['unused'] == ['itm_head.weight']
    assert sorted({k.split('.')[-2] for k in info['missing']}) == ['0', '2', 'cross_attn_merge']
    for a, b in zip(fresh.text_encoder.layers, model.text_encoder.layers):
        for side in (a.cross_attn0, a.cross_attn1):
            assert torch.equal(side.k.weight, b.cross_attn0.k.weight)


def test_loss_learns_and_predict_sets_labels(vocab) -> None:
    model = tiny(vocab).train()
    samples = [
        DataSample(metainfo=dict(text=t)).set_gt_label(label) for t, label in zip(TEXTS, [1, 0])
    ]
    x = pairs(2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss = model.loss(x, samples)['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2
    out = model.eval().predict(x, samples)
    assert [int(s.pred_label) for s in out] == [1, 0]
    assert out[0].pred_score.shape == (2,)
    torch.testing.assert_close(
        model.verify(x, TEXTS),
        out[0].pred_score[1:].new_tensor([float(s.pred_score[1]) for s in out]),
    )


def test_loss_names_missing_text(vocab) -> None:
    with pytest.raises(ValueError, match='sample 0 needs a statement'):
        tiny(vocab).loss(pairs(1), [DataSample().set_gt_label(1)])
