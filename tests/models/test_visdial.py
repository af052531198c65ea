"""BlipVisDial: training loss, ranking with shared cross-attention keys/values, loading BLIP
checkpoints (the caption encoder starts as the ITM encoder), the dialog input layout."""

import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from blip_plugin.models import BlipRetrieval, BlipVisDial, load_blip_weights
from blip_plugin.models.blip.visdial import dialog_context

init_default_scope('blip_plugin')

LENGTHS = dict(max_context_len=40, max_answer_len=8, max_caption_len=16)  # fit 64 positions
OPTIONS = ['red', 'blue', 'green', 'a circle', 'a square', 'yes', 'no', 'the shape is red']


def tiny_parts(root: str, vision_width: int = 32) -> dict:
    return dict(
        vision_encoder=dict(
            type='BlipViT',
            arch=dict(embed_dim=vision_width, depth=1, num_heads=2),
            img_size=16,
            patch_size=8,
        ),
        med_config=dict(
            vocab_size=None,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            dropout=0.0,
        ),
        tokenizer=dict(name_or_path=f'{root}/tokenizer'),
    )


@pytest.fixture(scope='module')
def model(shapes_world_root: str) -> BlipVisDial:
    torch.manual_seed(0)
    return BlipVisDial(**tiny_parts(shapes_world_root), **LENGTHS, num_negatives=2).eval()


def train_sample(gt: int = 0, history=()) -> DataSample:
    s = DataSample()
    s.set_field('an image with two shapes', 'caption')
    s.set_field([list(h) for h in history], 'history')
    s.set_field('what color is the shape on the left?', 'question')
    s.set_field(list(OPTIONS), 'answer_options')
    s.set_field(gt, 'gt_index')
    return s


def dialog_sample() -> DataSample:
    s = DataSample()
    s.set_field('an image with one shape', 'caption')
    rounds = [
        dict(question='what shape is on the left?', answer='a circle', answer_options=OPTIONS),
        dict(question='is the shape on the left small?', answer='yes', answer_options=[]),
        dict(question='what color is the shape on the left?', answer=None, answer_options=OPTIONS),
    ]
    s.set_field(rounds, 'dialog')
    return s


def test_dialog_context_keeps_the_latest_rounds() -> None:
    history = [['q1', 'a1'], ['q2', 'a2'], ['q3', 'a3']]
    assert dialog_context(history, 'q4', None) == 'q1 a1 q2 a2 q3 a3 q4'
    assert dialog_context(history, 'q4', 2) == 'q2 a2 q3 a3 q4'
    assert dialog_context(history, 'q4', 0) == 'q4'


def test_dialog_tokens_layout(model: BlipVisDial) -> None:
    tok = model.tokenizer
    ids, atts = model.dialog_tokens(['what color is it ? red', 'what'], ['a red circle', 'no'])
    first = tok.convert_ids_to_tokens(ids[0][: int(atts[0].sum())])
    assert first[0] == '[ENC]' and first[-1] == '[SEP]' and first.count('[SEP]') == 2
    assert first[first.index('[SEP]') + 1 :] == ['a', 'red', 'circle', '[SEP]']
    assert int(atts[1].sum()) == 5 and int(ids[1, 5]) == tok.pad_token_id
    model.max_context_len = 2  # the context keeps its last tokens
    try:
        ids, atts = model.dialog_tokens(['what color is the shape'], ['red'])
    finally:
        model.max_context_len = LENGTHS['max_context_len']
    assert tok.convert_ids_to_tokens(ids[0]) == ['[ENC]', 'the', 'shape', '[SEP]', 'red', '[SEP]']


@pytest.mark.parametrize('hard', [0, 4, -1])
def test_loss_is_finite_and_trains_every_part(model: BlipVisDial, hard: int) -> None:
    model.train()
    model.hard_negatives = hard
    try:
        images = torch.randn(2, 3, 16, 16)
        loss = model.loss(images, [train_sample(0), train_sample(3, [('q', 'a')])])['loss_itm']
    finally:
        model.hard_negatives = 0
        model.eval()
    assert torch.isfinite(loss) and loss.item() > 0
    model.zero_grad()
    loss.backward()
    for part in ('vision_encoder', 'caption_encoder', 'text_encoder', 'itm_head'):
        grads = [p.grad for p in getattr(model, part).parameters() if p.grad is not None]
        assert grads and any(float(g.abs().sum()) > 0 for g in grads), part


def test_rank_shares_keys_and_values_and_matches_plain_scoring(model: BlipVisDial) -> None:
    images = torch.randn(1, 3, 16, 16)
    embeds, atts = model.visual_context(images, ['an image with one shape'])
    contexts = ['what color is the shape on the left?', 'what shape is at the top?']
    model.rank_batch_size = 3  # chunks cross the round boundary
    try:
        scores = model.rank(embeds, atts, contexts, [OPTIONS, OPTIONS[::-1]])
    finally:
        model.rank_batch_size = 500
    assert scores.shape == (2, len(OPTIONS))
    # reference: every (context, candidate) sequence with its own copy of the visual context
    pairs = [(c, a) for c, opts in zip(contexts, [OPTIONS, OPTIONS[::-1]]) for a in opts]
    ids, tatts = model.dialog_tokens([c for c, _ in pairs], [a for _, a in pairs])
    n = len(pairs)
    h = model.text_encoder(ids, tatts, embeds.expand(n, -1, -1), atts.expand(n, -1))
    logits = model.itm_head(h[:, 0])
    torch.testing.assert_close(scores.view(-1), logits[:, 1] - logits[:, 0], atol=1e-5, rtol=1e-5)


def test_predict_ranks_rounds_with_options(model: BlipVisDial) -> None:
    out = model.predict(torch.randn(2, 3, 16, 16), [dialog_sample(), dialog_sample()])
    assert out[0].pred_scores.shape == (2, len(OPTIONS))  # rounds 1 and 3
    scores = model.rank_answers(
        torch.randn(1, 3, 16, 16),
        'an image',
        [['what shape is on the left?', 'a circle']],
        'what color is it?',
        OPTIONS,
    )
    assert scores.shape == (len(OPTIONS),)
    with pytest.raises(ValueError, match='mode'):
        model(torch.randn(1, 3, 16, 16), [], mode='tensor')


def test_loads_a_blip_checkpoint_caption_encoder_from_itm_encoder(shapes_world_root) -> None:
    torch.manual_seed(1)
    parts = tiny_parts(shapes_world_root)
    retrieval = BlipRetrieval(**parts, embed_dim=16, queue_size=8)
    model = BlipVisDial(**parts, **LENGTHS)
    result = load_blip_weights(model, retrieval.state_dict())
    assert not result['missing'] and not result['unexpected']
    assert 'text_encoder_m.layers.0.ffn.fc1.weight' in result['unused']
    for name, p in retrieval.text_encoder.state_dict().items():
        torch.testing.assert_close(model.text_encoder.state_dict()[name], p)
        torch.testing.assert_close(model.caption_encoder.state_dict()[name], p)
    torch.testing.assert_close(model.itm_head.weight, retrieval.itm_head.weight)
    # its own checkpoint keeps its own caption encoder
    with torch.no_grad():
        model.caption_encoder.layers[0].ffn.fc1.weight.add_(1.0)
    other = BlipVisDial(**parts, **LENGTHS)
    load_blip_weights(other, model.state_dict())
    torch.testing.assert_close(
        other.caption_encoder.layers[0].ffn.fc1.weight,
        model.caption_encoder.layers[0].ffn.fc1.weight,
    )


def test_caption_states_projected_to_a_wider_vision_width(shapes_world_root) -> None:
    model = BlipVisDial(**tiny_parts(shapes_world_root, vision_width=48), **LENGTHS)
    embeds, atts = model.visual_context(torch.randn(1, 3, 16, 16), ['an image with one shape'])
    # image: CLS + 4 patches; caption: [ENC] + 5 words + [SEP]
    assert embeds.shape[-1] == 48 and embeds.shape[1] == atts.shape[1] == 1 + 4 + 7


def test_lengths_must_fit_the_position_embeddings(shapes_world_root) -> None:
    with pytest.raises(ValueError, match='64 positions'):
        BlipVisDial(**tiny_parts(shapes_world_root), max_context_len=60, max_answer_len=8)


def test_init_std_sets_both_encoders_projection_and_head_init(shapes_world_root) -> None:
    """``init_std`` (BERT's initializer_range) scales the normal init of both MEDs, the caption
    projection and the ITM head; the ViT keeps its own."""
    for std in (0.02, 0.07):
        torch.manual_seed(0)
        model = BlipVisDial(
            **tiny_parts(shapes_world_root, vision_width=48), **LENGTHS, init_std=std
        )
        for w in (
            model.text_encoder.layers[1].cross_attn.v.weight,
            model.caption_encoder.layers[0].ffn.fc1.weight,
            model.caption_proj.weight,
            model.itm_head.weight,
        ):
            assert w.std().item() == pytest.approx(std, rel=0.2)
        assert model.text_encoder.layers[0].cross_attn.v.bias.abs().max() == 0
        assert model.vision_encoder.blocks[0].attn.qkv.weight.std().item() < 0.03
