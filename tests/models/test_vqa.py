"""BlipVQA: the weighted answer loss and the batched candidate ranking against the official
code (models/blip_vqa.py, rewritten here with its loops and ``tile``), the plain API, and
loading an official-layout checkpoint."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample
from transformers import BlipTextConfig
from transformers.models.blip.modeling_blip_text import BlipTextLMHeadModel, BlipTextModel

from blip_plugin.models.blip.vqa import BlipVQA
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
ANSWERS = [
    'red',
    'blue',
    'green',
    'yes',
    'no',
    'one',
    'two',
    'three',
    'red square',
    'big blue circle',
    'small triangle',
    'two red',
    'square',
]
QUESTIONS = [
    'what color is the shape on the left?',
    'how many are there?',
    'is there a red square on the right?',
    'what shape is big?',
    'what is left?',
]
VOCAB = len(WORDS) + 2
CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
MED = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_layers=2,
    num_heads=2,
    intermediate_size=64,
    max_position_embeddings=64,
    dropout=0.0,
)


@pytest.fixture(scope='module')
def vocab(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('vqa_vocab')
    (path / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    return str(path)


def tiny(vocab: str, seed: int = 0, **kwargs) -> BlipVQA:
    torch.manual_seed(seed)
    model = BlipVQA(
        vision_encoder=dict(
            type='BlipViT', arch=dict(embed_dim=48, depth=2, num_heads=2), img_size=32, patch_size=8
        ),
        med_config=MED,
        tokenizer=dict(name_or_path=vocab),
        answer_list=ANSWERS,
        **kwargs,
    )
    with torch.no_grad():  # larger weights, so that answers depend on image and question
        for p in model.parameters():
            if p.ndim > 1:
                p.normal_(0, 1.5 / math.sqrt(p[0].numel()))
    return model.eval()


def images(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def sample(question: str, answers: list, weights: list = None) -> DataSample:
    s = DataSample()
    s.set_field(question, 'question')
    s.set_field(answers, 'gt_answer')
    if weights is not None:
        s.set_field(weights, 'gt_answer_weight')
    return s


def test_loss_equals_official_loop(vocab):
    model = tiny(vocab)
    model.text_decoder.label_smoothing = 0.1
    samples = [
        sample(QUESTIONS[0], ['red', 'blue'], [0.7, 0.3]),
        sample(QUESTIONS[1], 'two'),
        sample(QUESTIONS[2], ['yes', 'no', 'red square'], [0.5, 0.3, 0.2]),
    ]
    x = images(3)
    loss = model.loss(x, samples)['loss_vqa']

    # official forward(train=True): n copies of each question's states, one per answer
    q_ids, q_atts = model.tokenize_questions([s.question for s in samples])
    states = model.encode_question(q_ids, q_atts, model.encode_image(x))
    answers = ['red', 'blue', 'two', 'yes', 'no', 'red square']
    weights = torch.tensor([0.7, 0.3, 1.0, 0.5, 0.3, 0.2])
    a_ids, a_atts = model.tokenize_answers(answers)
    rep_states, rep_atts = [], []
    for b, n in enumerate([2, 1, 3]):
        rep_states += [states[b]] * n
        rep_atts += [q_atts[b]] * n
    targets = a_ids.masked_fill(a_ids == model.tokenizer.pad_token_id, -100)
    per_answer = model.text_decoder.loss(
        a_ids,
        a_atts,
        torch.stack(rep_states),
        targets,
        image_atts=torch.stack(rep_atts),
        reduction='none',
    )
    ref = (weights * per_answer).sum() / 3
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert model.vision_encoder.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.text_encoder.layers[0].cross_attn.k.weight.grad.abs().sum() > 0


def official_rank(model: BlipVQA, states, atts, answer_ids, answer_atts, k: int):
    """official rank_answer, with its per-question loop and ``tile``."""
    num_ques = states.size(0)
    start_ids = answer_ids[0, 0].repeat(num_ques, 1)
    logits = model.text_decoder(start_ids, image_embeds=states, image_atts=atts)[:, 0, :]
    prob_first_token = torch.softmax(logits, dim=1).index_select(1, answer_ids[:, 1])
    _, topk_ids = prob_first_token.topk(k, dim=1)
    input_ids, input_atts = [], []
    for topk_id in topk_ids:
        input_ids.append(answer_ids.index_select(0, topk_id))
        input_atts.append(answer_atts.index_select(0, topk_id))
    input_ids, input_atts = torch.cat(input_ids), torch.cat(input_atts)
    targets = input_ids.masked_fill(input_ids == model.tokenizer.pad_token_id, -100)

    def tile(x, n):
        order = torch.LongTensor(
            np.concatenate([x.size(0) * np.arange(n) + i for i in range(x.size(0))])
        )
        return x.repeat(n, *[1] * (x.dim() - 1)).index_select(0, order)

    nll = model.text_decoder.loss(
        input_ids, input_atts, tile(states, k), targets, image_atts=tile(atts, k), reduction='none'
    )
    best = (-nll).view(num_ques, k).argmax(dim=1)
    return topk_ids[best >= 0, best]


@pytest.mark.parametrize('k', [4, 13, 100])
def test_rank_equals_official_rank_answer(vocab, k):
    model = tiny(vocab)
    x = images(len(QUESTIONS))
    out = model.answer(x, QUESTIONS, method='rank', k=k)
    with torch.no_grad():
        q_ids, q_atts = model.tokenize_questions(QUESTIONS)
        states = model.encode_question(q_ids, q_atts, model.encode_image(x))
        a_ids, a_atts = model.tokenize_answers(ANSWERS)
        ref = official_rank(model, states, q_atts, a_ids, a_atts, min(k, len(ANSWERS)))
    assert out == [ANSWERS[i] for i in ref.tolist()]
    assert len(set(out)) > 1, out  # depends on the question and image


def test_rank_shortlist_matters(vocab):
    """k=1 keeps the first-token winner; full scoring over all candidates may differ, and a
    multi-token candidate can only win through the second stage."""
    model = tiny(vocab)
    x = images(len(QUESTIONS))
    one = model.answer(x, QUESTIONS, method='rank', k=1)
    with torch.no_grad():
        q_ids, q_atts = model.tokenize_questions(QUESTIONS)
        states = model.encode_question(q_ids, q_atts, model.encode_image(x))
        a_ids, _ = model.tokenize_answers(ANSWERS)
        start = a_ids[:1, :1].expand(len(QUESTIONS), 1)
        first = model.text_decoder(start, image_embeds=states, image_atts=q_atts)[:, 0]
        best_first = first[:, a_ids[:, 1]].argmax(1)
    assert one == [ANSWERS[i] for i in best_first.tolist()]


def test_answer_api_and_predict(vocab):
    model = tiny(vocab, inference='generate', generation=dict(max_length=6))
    x = images(3)
    questions = QUESTIONS[:3]
    for method in ('generate', 'rank'):
        out = model.answer(x, questions, method=method)
        assert isinstance(out, list) and len(out) == 3 and all(isinstance(a, str) for a in out)
    assert all(a in ANSWERS[:3] for a in model.answer(x, questions, 'rank', ANSWERS[:3]))
    greedy = model.answer(x, questions, strategy='greedy')
    assert greedy == model.answer(x, questions, strategy='beam', num_beams=1)
    samples = model(x, [sample(q, 'x') for q in questions], mode='predict')
    assert [s.pred_answer for s in samples] == model.answer(x, questions)
    assert model(x, mode='tensor').shape == (3, 17, 48)

    with pytest.raises(ValueError, match='3 images but 2 questions'):
        model.answer(x, questions[:2])
    with pytest.raises(ValueError, match="'rank' or 'generate'"):
        model.answer(x, questions, method='classify')
    with pytest.raises(TypeError, match='only k'):
        model.answer(x, questions, method='rank', num_beams=3)
    with pytest.raises(ValueError, match='no question'):
        model(x, [DataSample() for _ in range(3)], mode='predict')
    with pytest.raises(ValueError, match='2 answers but 1 weights'):
        model.loss(x, [sample(q, ['a', 'b'], [1.0]) for q in questions])
    model.answer_list = None
    with pytest.raises(ValueError, match='needs candidate answers'):
        model.answer(x, questions, method='rank')


def test_generate_masks_question_padding(vocab):
    """An answer does not depend on the padding its batch gives its question (unless
    ``attend_question_padding``, the official all-ones mask)."""
    model = tiny(vocab, inference='generate')
    x = images(2)
    short, long_ = 'what is left?', 'is there a red square on the right?'
    alone = model.answer(x[:1], [short])
    assert model.answer(x, [short, long_])[:1] == alone
    model.attend_question_padding = True
    logits = []
    for batch in ([short], [short, long_]):  # padding attended: the decoder sees it
        q_ids, q_atts = model.tokenize_questions(batch)
        states = model.encode_question(q_ids, q_atts, model.encode_image(x[: len(batch)]))
        start = torch.full((len(batch), 1), model.tokenizer.bos_token_id)
        logits.append(model.text_decoder(start, image_embeds=states)[0, 0])
    assert (logits[0] - logits[1]).abs().max() > 1e-3


def hf_jitter(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return module.eval()


def test_official_vqa_checkpoint_loads(vocab, tmp_path):
    """model_vqa.pth layout: visual_encoder (timm names), text_encoder (BertModel names, no
    pooler), text_decoder.{bert,cls}; the decoder reads 32-wide question states while the
    encoder reads the 48-wide ViT."""
    model = tiny(vocab)
    enc_cfg = BlipTextConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        encoder_hidden_size=48,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=64,
    )
    dec_cfg = BlipTextConfig(**{**enc_cfg.to_dict(), 'encoder_hidden_size': 32})
    encoder = hf_jitter(BlipTextModel(enc_cfg, add_pooling_layer=False), 1)
    decoder = hf_jitter(BlipTextLMHeadModel(dec_cfg), 2)
    vit = tiny(vocab, seed=3).vision_encoder
    sd = {f'visual_encoder.{k}': v for k, v in vit.state_dict().items()}
    sd.update({f'text_encoder.{k}': v for k, v in encoder.state_dict().items()})
    sd.update({f'text_decoder.{k}': v for k, v in decoder.state_dict().items()})
    sd['text_decoder.bert.embeddings.position_ids'] = torch.arange(64)[None]
    path = str(tmp_path / 'model_vqa.pth')
    torch.save({'model': sd}, path)
    result = load_blip_weights(model, path)
    assert result['format'] == 'official' and not result['missing'] and not result['unexpected']

    x = images(2)
    q_ids, q_atts = model.tokenize_questions(QUESTIONS[:2])
    a_ids, a_atts = model.tokenize_answers(['red', 'two'])
    with torch.no_grad():
        img = vit(x)
        states = model.encode_question(q_ids, q_atts, model.encode_image(x))
        ref_states = encoder(
            input_ids=q_ids, attention_mask=q_atts, encoder_hidden_states=img
        ).last_hidden_state
        ones = torch.ones_like(q_atts)
        logits = model.text_decoder(a_ids, a_atts, states, ones)
        ref = decoder(
            input_ids=a_ids,
            attention_mask=a_atts,
            encoder_hidden_states=ref_states,
            encoder_attention_mask=ones,
        ).logits
    real = q_atts.bool()
    torch.testing.assert_close(states[real], ref_states[real], atol=1e-4, rtol=0)
    torch.testing.assert_close(logits[:, :3], ref[:, :3], atol=1e-4, rtol=0)


def test_toy_config_trains_and_evaluates(tmp_path):
    """configs/toy/blip-tiny_1xb32_shapes-vqa.py end to end on a small shapes world: dataset,
    pipeline, loss, rank inference and the VQA metric wired through the runner."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import blip_plugin.datasets.vqa  # noqa: F401  (register, whatever the package exports)
    import blip_plugin.evaluation.vqa  # noqa: F401
    from blip_plugin.datasets.shapes_world import make_shapes_world

    root = str(tmp_path / 'shapes')
    make_shapes_world(root, num_train=24, num_val=4, num_test=1, image_size=32)
    cfg = Config.fromfile(str(CONFIGS / 'toy/blip-tiny_1xb32_shapes-vqa.py'))
    cfg.model.tokenizer.name_or_path = f'{root}/tokenizer'
    cfg.model.answer_list = f'{root}/annotations/answer_list.json'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        cfg[loader].dataset.data_root = root
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0)]
    cfg.default_hooks.checkpoint = dict(type='BlipCheckpointHook', interval=1, save_last=False)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert 0.0 <= metrics['vqa/acc'] <= 100.0
    assert len(runner.val_dataloader.dataset) == 12  # 3 questions per image
