"""Zero-shot video models: image checkpoints load unchanged, ITC averages the frames'
projected [CLS] features, ITM and the VQA question encoder read the frames concatenated, and
the split-wide scores equal the official eval_retrieval_video.py loop."""

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from blip_plugin.models.blip.retrieval import BlipRetrieval
from blip_plugin.models.blip.video import (
    BlipVideoDataPreprocessor,
    BlipVideoRetrieval,
    BlipVideoVQA,
    frame_embeds,
)
from blip_plugin.models.blip.vqa import BlipVQA

WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
WORDS += (
    'a the red blue green circle square triangle on left right is there what color yes no'.split()
)
TEXTS = ['a red circle', 'the blue square on the left', 'a green triangle', 'red', 'blue circle']
TXT2VID = [0, 1, 2, 0, 1]
VIT = dict(type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8)
MED = dict(
    vocab_size=None,
    hidden_size=32,
    num_layers=2,
    num_heads=2,
    intermediate_size=64,
    max_position_embeddings=64,
    dropout=0.0,
)


@pytest.fixture(scope='module')
def vocab(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('video_vocab')
    (path / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    return str(path)


def spread(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():  # random BERT init scores every pair alike; spread them out
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model.eval()


def retrieval(vocab: str, cls=BlipVideoRetrieval, **kwargs) -> BlipRetrieval:
    torch.manual_seed(0)
    model = cls(
        vision_encoder=VIT,
        med_config=MED,
        tokenizer=dict(name_or_path=vocab),
        embed_dim=16,
        queue_size=8,
        max_txt_len=12,
        **kwargs,
    )
    return spread(model)


def videos(b: int, t: int, seed: int = 2) -> torch.Tensor:
    return torch.randn(b, t, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_image_checkpoints_load_unchanged(vocab):
    image = retrieval(vocab, BlipRetrieval)
    video = BlipVideoRetrieval(
        vision_encoder=VIT,
        med_config=MED,
        tokenizer=dict(name_or_path=vocab),
        embed_dim=16,
        queue_size=8,
        max_txt_len=12,
    )
    assert set(video.state_dict()) == set(image.state_dict())  # no new parameter
    video.load_state_dict(image.state_dict(), strict=True)
    x = videos(2, 1).squeeze(1)
    assert torch.equal(video.eval().encode_image(x), image.encode_image(x))


def test_itc_is_the_normalised_mean_of_projected_frame_cls(vocab):
    model = retrieval(vocab)
    v = videos(2, 3)
    embeds, feat = model.image_features(v)
    frames = torch.stack([model.vision_encoder(v[:, t]) for t in range(3)], 1)  # (B, T, 1+N, D)
    n = frames.shape[2]
    assert embeds.shape == (2, 3 * n, 32)
    for t in range(3):  # the frames' tokens, concatenated in time order
        assert torch.allclose(embeds[:, t * n : (t + 1) * n], frames[:, t], atol=1e-6)
    expected = F.normalize(model.vision_proj(frames[:, :, 0]).mean(1), dim=-1)
    assert torch.allclose(feat, expected, atol=1e-6)
    # not the first frame's feature alone (a frame-0-only bug would pass the shape checks)
    first = F.normalize(model.vision_proj(frames[:, 0, 0]), dim=-1)
    assert not torch.allclose(feat, first, atol=1e-3)


def test_one_frame_video_equals_the_image(vocab):
    model = retrieval(vocab)
    img = videos(2, 1)
    v_embeds, v_feat = model.image_features(img)
    i_embeds, i_feat = model.image_features(img[:, 0])
    assert torch.allclose(v_embeds, i_embeds, atol=1e-6)
    assert torch.allclose(v_feat, i_feat, atol=1e-6)
    assert torch.allclose(model.itm_matrix(img, TEXTS), model.itm_matrix(img[:, 0], TEXTS))


def official_video_eval(model: BlipVideoRetrieval, clips: torch.Tensor, k: int) -> tuple:
    """eval_retrieval_video.py ``evaluation`` on one rank, written as it is there."""
    tok = model.tokenizer(
        TEXTS, padding='max_length', truncation=True, max_length=12, return_tensors='pt'
    )
    out = model.text_encoder(tok.input_ids, tok.attention_mask)
    text_embeds = F.normalize(model.text_proj(out[:, 0]))
    text_ids = tok.input_ids.clone()
    text_ids[:, 0] = model.tokenizer.enc_token_id
    B, N, C, W, H = clips.shape
    video_feat = model.vision_encoder(clips.view(-1, C, W, H))
    video_embed = model.vision_proj(video_feat[:, 0, :]).view(B, N, -1).mean(dim=1)
    video_embed = F.normalize(video_embed, dim=-1)
    video_feat = video_feat.view(B, -1, video_feat.shape[-1])
    sims = video_embed @ text_embeds.t()
    v2t = torch.full((B, len(TEXTS)), -100.0)
    for i, s in enumerate(sims):
        topk_sim, topk_idx = s.topk(k=k, dim=0)
        enc = video_feat[i].repeat(k, 1, 1)
        h = model.text_encoder(text_ids[topk_idx], tok.attention_mask[topk_idx], enc)
        v2t[i, topk_idx] = model.itm_head(h[:, 0])[:, 1] + topk_sim
    t2v = torch.full((len(TEXTS), B), -100.0)
    for i, s in enumerate(sims.t()):
        topk_sim, topk_idx = s.topk(k=min(k, B), dim=0)
        enc = video_feat[topk_idx]
        ids, att = (
            text_ids[i].repeat(len(topk_idx), 1),
            tok.attention_mask[i].repeat(len(topk_idx), 1),
        )
        h = model.text_encoder(ids, att, enc)
        t2v[i, topk_idx] = model.itm_head(h[:, 0])[:, 1] + topk_sim
    return v2t, t2v


@torch.no_grad()
def test_retrieval_scores_equal_the_official_video_evaluation(vocab):
    model = retrieval(vocab, k_test=2)
    clips = videos(3, 4)
    samples = []
    for i in range(3):
        ids = [t for t, v in enumerate(TXT2VID) if v == i]
        s = DataSample(image_idx=i)
        s.set_field([TEXTS[t] for t in ids], 'gt_caption')
        s.set_field(ids, 'text_idx')
        samples.append(s)
    scores = model.retrieval_scores(model.extract_feat(clips, samples), distributed=False)
    v2t, t2v = official_video_eval(model, clips, k=2)
    assert torch.allclose(scores['i2t_scores'], v2t, atol=1e-4)
    assert torch.allclose(scores['t2i_scores'], t2v, atol=1e-4)


def test_video_training_is_refused_clearly(vocab):
    model = retrieval(vocab).train()
    with pytest.raises(ValueError, match='zero-shot on videos'):
        model.loss(videos(2, 2), [DataSample(gt_caption='red', image_idx=i) for i in range(2)])
    with pytest.raises(ValueError, match=r'\(B, T, 3, H, W\)'):
        model.image_features(torch.zeros(2, 3, 1, 32, 32))


def test_vqa_question_encoder_reads_the_concatenated_frames(vocab):
    torch.manual_seed(0)
    model = spread(
        BlipVideoVQA(
            vision_encoder=VIT,
            med_config=MED,
            tokenizer=dict(name_or_path=vocab),
            answer_list=['yes', 'no', 'red', 'blue'],
        )
    )
    image_model = BlipVQA(
        vision_encoder=VIT, med_config=MED, tokenizer=dict(name_or_path=vocab), answer_list=['no']
    )
    assert set(image_model.state_dict()) == set(model.state_dict())
    v = videos(2, 3)
    embeds = model.encode_image(v)
    assert torch.allclose(embeds, frame_embeds(model.vision_encoder, v).flatten(1, 2))
    questions = ['what color is the circle?', 'is there a red square?']
    answers = model.answer(v, questions)
    assert len(answers) == 2 and all(a in ('yes', 'no', 'red', 'blue') for a in answers)
    assert len(model.answer(v, questions, method='generate', max_length=4)) == 2
    # every frame matters, the last one too: replacing it changes the question states
    late = v.clone()
    late[:, -1] = videos(2, 1, seed=9)[:, 0]
    q_ids, q_atts = model.tokenize_questions(questions)
    a = model.encode_question(q_ids, q_atts, model.encode_image(v))
    b = model.encode_question(q_ids, q_atts, model.encode_image(late))
    assert not torch.allclose(a, b, atol=1e-4)


def test_data_preprocessor_stacks_and_normalises():
    pre = BlipVideoDataPreprocessor(mean=[1.0, 2.0, 3.0], std=[2.0, 2.0, 2.0])
    clips = [torch.full((4, 3, 8, 8), 5, dtype=torch.uint8) for _ in range(2)]
    out = pre(dict(inputs=clips, data_samples=None))['inputs']
    assert out.shape == (2, 4, 3, 8, 8) and out.dtype == torch.float32
    assert torch.allclose(out[0, 0, :, 0, 0], torch.tensor([2.0, 1.5, 1.0]))
    flipped = BlipVideoDataPreprocessor([1.0, 2.0, 3.0], [1.0] * 3, bgr_to_rgb=True)
    x = torch.arange(3, dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 2, 2).contiguous()
    got = flipped(dict(inputs=[x]))['inputs'][0, 0, :, 0, 0]
    assert torch.equal(got, torch.tensor([1.0, -1.0, -3.0]))  # (2, 1, 0) - (1, 2, 3)
    with pytest.raises(ValueError, match='one shape'):
        pre(dict(inputs=[clips[0], clips[1][:2]]))
