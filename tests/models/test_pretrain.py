"""BLIP pre-training: ITC / ITM / LM pieces against hand-computed cases, parameter sharing,
momentum encoders, queues and loading the official checkpoint layout."""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmpretrain.structures import DataSample

from blip_plugin.models.blip.momentum import ramped_alpha
from blip_plugin.models.blip.pretrain import BlipPretrain
from blip_plugin.models.convert import convert_state_dict
from blip_plugin.models.heads.itc import enqueue, itc_loss, one_hot_targets
from blip_plugin.models.heads.itm import negative_weights, sample_negatives
from blip_plugin.models.weights import load_blip_weights

WORDS = (
    'a an the red blue green circle square triangle on left right of above below big small'
).split()
CAPTIONS = [
    'a red circle',
    'the blue square on the left',
    'a small green triangle',
    'big red square above a circle',
]


@pytest.fixture(scope='module')
def vocab(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('vocab')
    (path / 'vocab.txt').write_text(
        '\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + WORDS) + '\n'
    )
    return str(path)


def tiny(vocab: str, **kwargs) -> BlipPretrain:
    torch.manual_seed(0)
    return BlipPretrain(
        vision_encoder=dict(
            type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8
        ),
        med_config=dict(
            vocab_size=32,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            dropout=0.0,
        ),
        tokenizer=dict(name_or_path=vocab),
        embed_dim=16,
        queue_size=8,
        max_txt_len=12,
        itm_seed=0,
        **kwargs,
    )


def samples(captions=CAPTIONS) -> list:
    return [DataSample(gt_caption=c) for c in captions]


def images(n: int = 4) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_itc_loss_hand_computed():
    feats = torch.eye(2)  # image i and text i coincide
    q = torch.tensor([[0.6], [0.8]])  # one queued feature
    bank = torch.cat([feats.t(), q], dim=1)  # (D, B + Q)
    targets = one_hot_targets(2, 3, 0)
    loss, sim, _ = itc_loss(
        feats, feats, feats, feats, bank, bank, torch.tensor(1.0), targets, alpha=0.0
    )
    row0 = -math.log(math.e / (math.e + 1 + math.exp(0.6)))
    row1 = -math.log(math.e / (1 + math.e + math.exp(0.8)))
    assert loss.item() == pytest.approx((row0 + row1) / 2, abs=1e-6)
    torch.testing.assert_close(sim, torch.tensor([[1, 0, 0.6], [0, 1, 0.8]]))
    # with distillation the targets mix in the momentum softmax (here the same similarities)
    loss_d, _, _ = itc_loss(
        feats, feats, feats, feats, bank, bank, torch.tensor(1.0), targets, alpha=0.4
    )
    soft = 0.4 * F.softmax(sim, 1) + 0.6 * targets
    assert loss_d.item() == pytest.approx(-(soft * F.log_softmax(sim, 1)).sum(1).mean().item())


def test_enqueue_wraps_around():
    queue, ptr = torch.zeros(2, 5), torch.tensor([3])
    enqueue([queue], ptr, [torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])])
    assert queue[0].tolist() == [3, 0, 0, 1, 2] and int(ptr) == 1


def test_hard_negatives_never_positive():
    sim = torch.tensor([[5.0, 0.0, 1.0], [0.0, 5.0, 9.0], [1.0, 1.0, 1.0]])
    positive = torch.eye(3, dtype=torch.bool)
    positive[1, 2] = True  # e.g. another text of the same image
    w = negative_weights(sim, positive)
    assert (w[positive] == 0).all() and w[1, 0] > 0 and (w[1, 1:] == 0).all()
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_negatives(w, gen) for _ in range(200)])
    assert not positive[torch.arange(3).expand_as(draws), draws].any()
    # eps (official pre-training 1e-4) keeps low-similarity candidates drawable
    assert (negative_weights(sim, torch.eye(3, dtype=torch.bool), eps=1e-4)[0, 1:] > 0).all()
    # no allowed candidate: uniform instead of a multinomial error
    assert negative_weights(sim, torch.ones(3, 3, dtype=torch.bool))[0].tolist() == [1, 1, 1]


@pytest.mark.parametrize('share', ['all_but_self_attn', 'all', 'none'])
def test_parameter_sharing(vocab, share):
    model = tiny(vocab, share=share)
    enc, dec = model.text_encoder, model.text_decoder.transformer
    same_ffn = dec.layers[0].ffn is enc.layers[0].ffn
    same_sa = dec.layers[0].self_attn is enc.layers[0].self_attn
    assert same_ffn == (share != 'none') and same_sa == (share == 'all')
    assert (dec.embeddings is enc.embeddings) == (share != 'none')
    assert dec.layers[1].cross_attn_norm is enc.layers[1].cross_attn_norm or share == 'none'
    assert model.text_decoder.lm_head.decoder.weight is dec.embeddings.word.weight
    out = model.loss(images(), samples(), alpha=0.4)
    assert set(out) == {'loss_itc', 'loss_itm', 'loss_lm'}


def test_loss_step_updates_momentum_queue_and_clamps_temp(vocab):
    model = tiny(vocab, momentum=0.9)
    with torch.no_grad():
        model.temp.fill_(0.9)
        model.text_proj.weight.add_(1.0)  # online and momentum differ now
    before = model.text_proj_m.weight.clone()
    out = model.loss(images(), samples(), alpha=0.4)
    assert model.temp.item() == pytest.approx(0.5)
    torch.testing.assert_close(
        model.text_proj_m.weight, 0.9 * before + 0.1 * model.text_proj.weight
    )
    assert int(model.ptr_queue) == 4
    sum(out.values()).backward()
    assert all(p.grad is None for n, p in model.named_parameters() if '_m.' in n)
    assert model.temp.grad is not None and model.itm_head.weight.grad is not None
    assert model.text_decoder.transformer.layers[0].self_attn.q.weight.grad is not None
    assert all(torch.isfinite(v) for v in out.values())


def test_lm_loss_is_the_decoders_token_mean(vocab):
    model = tiny(vocab)
    out = model.loss(images(), samples(), alpha=0.4)
    ids, atts = model.tokenize(CAPTIONS)
    ids[:, 0] = model.tokenizer.bos_token_id
    labels = ids.masked_fill(ids == 0, -100)
    ref = model.text_decoder.loss(ids, atts, model.vision_encoder(images()), labels)
    assert out['loss_lm'].item() == pytest.approx(ref.item(), rel=1e-5)


def test_alpha_ramps_over_the_first_epochs():
    hub = MessageHub.get_instance('test_alpha_ramp')
    hub.update_info('max_iters', 100)
    hub.update_info('max_epochs', 10)  # 10 iterations per epoch
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(MessageHub, 'get_current_instance', classmethod(lambda cls: hub))
        assert ramped_alpha(0.4, 2.0, step=0) == 0.0
        assert ramped_alpha(0.4, 2.0, step=5) == pytest.approx(0.1)
        assert ramped_alpha(0.4, 1.0, step=25) == pytest.approx(0.4)
        assert ramped_alpha(0.4, 0.0, step=0) == 0.4


_INVERSE_BERT = [
    (r'embeddings\.word\.', 'embeddings.word_embeddings.'),
    (r'embeddings\.position\.', 'embeddings.position_embeddings.'),
    (r'embeddings\.norm\.', 'embeddings.LayerNorm.'),
    (
        r'layers\.(\d+)\.self_attn\.(q|k|v)\.',
        lambda m: (
            f'encoder.layer.{m[1]}.attention.self.{dict(q="query", k="key", v="value")[m[2]]}.'
        ),
    ),
    (r'layers\.(\d+)\.self_attn\.out\.', r'encoder.layer.\1.attention.output.dense.'),
    (r'layers\.(\d+)\.self_attn_norm\.', r'encoder.layer.\1.attention.output.LayerNorm.'),
    (
        r'layers\.(\d+)\.cross_attn\.(q|k|v)\.',
        lambda m: (
            f'encoder.layer.{m[1]}.crossattention.self.{dict(q="query", k="key", v="value")[m[2]]}.'
        ),
    ),
    (r'layers\.(\d+)\.cross_attn\.out\.', r'encoder.layer.\1.crossattention.output.dense.'),
    (r'layers\.(\d+)\.cross_attn_norm\.', r'encoder.layer.\1.crossattention.output.LayerNorm.'),
    (r'layers\.(\d+)\.ffn\.fc1\.', r'encoder.layer.\1.intermediate.dense.'),
    (r'layers\.(\d+)\.ffn\.fc2\.', r'encoder.layer.\1.output.dense.'),
    (r'layers\.(\d+)\.ffn_norm\.', r'encoder.layer.\1.output.LayerNorm.'),
]


def to_official(sd: dict) -> dict:
    """This plugin's pre-training state dict in the layout of official model_base.pth."""
    out = {}
    for key, value in sd.items():
        new = re.sub(r'^vision_encoder', 'visual_encoder', key)
        for part, official in (
            ('text_encoder.', 'text_encoder.'),
            ('text_encoder_m.', 'text_encoder_m.'),
            ('text_decoder.transformer.', 'text_decoder.bert.'),
        ):
            if key.startswith(part):
                rest = key[len(part) :]
                for pattern, repl in _INVERSE_BERT:
                    rest, n = re.subn('^' + pattern, repl, rest)
                    if n:
                        break
                new = official + rest
        new = (
            new.replace(
                'text_decoder.lm_head.dense', 'text_decoder.cls.predictions.transform.dense'
            )
            .replace(
                'text_decoder.lm_head.norm', 'text_decoder.cls.predictions.transform.LayerNorm'
            )
            .replace('text_decoder.lm_head.decoder', 'text_decoder.cls.predictions.decoder')
            .replace('ptr_queue', 'queue_ptr')
        )
        out[new] = value.clone()
    out['text_decoder.cls.predictions.bias'] = out['text_decoder.cls.predictions.decoder.bias']
    return out


def test_loads_official_pretrain_layout_with_momentum_and_queues(vocab):
    src = tiny(vocab)
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        src.ptr_queue.fill_(4)
    official = to_official(src.state_dict())
    assert 'text_encoder_m.encoder.layer.0.crossattention.self.query.weight' in official
    assert 'queue_ptr' in official and 'image_queue' in official
    assert set(convert_state_dict(official)) == set(src.state_dict())
    torch.manual_seed(5)
    dst = tiny(vocab)
    load_blip_weights(dst, official)
    for key, value in src.state_dict().items():
        torch.testing.assert_close(dst.state_dict()[key], value, msg=key)
    a = src.loss(images(), samples(), alpha=0.4)
    b = dst.loss(images(), samples(), alpha=0.4)
    for key in a:
        torch.testing.assert_close(a[key], b[key])
