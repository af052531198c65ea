"""inference_model on video paths: texts ranked per video or videos ranked for a text, video
QA, the config's frame sampling, and clear errors for missing or broken files."""

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from blip_plugin import inference_model
from blip_plugin.apis import TASKS, task_of
from blip_plugin.apis.video import build_video_pipeline, iter_video_batches, video_pipeline_cfg
from blip_plugin.datasets.shapes_world_video import write_clip
from blip_plugin.datasets.transforms.load_video import UnreadableVideoError
from blip_plugin.models.blip.video import BlipVideoRetrieval, BlipVideoVQA
from blip_plugin.registry import SCOPE

WORDS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
WORDS += 'a the red blue green circle square triangle what color is there yes no'.split()
TEXTS = ['a red circle', 'the blue square', 'green triangle']
COMMON = dict(
    vision_encoder=dict(
        type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8
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
    data_preprocessor=dict(type='BlipVideoDataPreprocessor', mean=[128.0] * 3, std=[64.0] * 3),
)


@pytest.fixture(scope='module')
def vocab(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('video_api_vocab')
    (path / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    return str(path)


def build(cls: type, **kwargs) -> torch.nn.Module:
    """``cls`` in the plugin's scope (its data preprocessor is registered there), with spread
    weights: a random BERT init scores every pair alike."""
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(SCOPE):
        model = cls(**kwargs, **COMMON)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model.eval()


@pytest.fixture(scope='module')
def clips(tmp_path_factory) -> list:
    root = tmp_path_factory.mktemp('video_api_clips')
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        frames = rng.integers(0, 255, (12, 48, 64, 3), dtype=np.uint8)
        paths.append(str(root / f'clip{i}.mp4'))
        write_clip(paths[-1], frames)
    return paths


@pytest.fixture(scope='module')
def retrieval(vocab) -> BlipVideoRetrieval:
    return build(
        BlipVideoRetrieval,
        tokenizer=dict(name_or_path=vocab),
        embed_dim=16,
        queue_size=8,
        num_frames=4,
    )


def test_video_tasks_are_dispatched(retrieval, vocab):
    assert task_of(retrieval) == 'Text-To-Video Retrieval'
    vqa = build(BlipVideoVQA, tokenizer=dict(name_or_path=vocab))
    assert task_of(vqa) == 'Video Question Answering'
    assert 'BlipVideoRetrieval' not in TASKS['Image-To-Text Retrieval'].model_types


def test_texts_ranked_for_each_video(retrieval, clips):
    out = inference_model(retrieval, clips, TEXTS, batch_size=2)
    assert len(out) == 3 and all(len(r) == 3 for r in out)
    pipeline = build_video_pipeline(retrieval)
    batch = next(iter_video_batches(clips, pipeline, 3))
    assert batch['inputs'][0].shape == (4, 3, 32, 32)  # model.num_frames at the ViT's size
    pixels = retrieval.data_preprocessor(batch, False)['inputs']
    itm = retrieval.itm_matrix(pixels, TEXTS)
    itc = retrieval.encode_image(pixels) @ retrieval.encode_text(TEXTS).t()
    for i, ranking in enumerate(out):
        scores = [r['itm_score'] for r in ranking]
        assert scores == sorted(scores, reverse=True)
        for r in ranking:
            j = TEXTS.index(r['text'])
            assert r['itm_score'] == pytest.approx(float(itm[i, j]), abs=1e-5)
            assert r['itc_similarity'] == pytest.approx(float(itc[i, j]), abs=1e-5)
    one = inference_model(retrieval, clips[0], TEXTS)  # one path: one ranking
    assert [r['text'] for r in one] == [r['text'] for r in out[0]]
    videos = inference_model(retrieval, clips, 'a red circle')  # one text ranks the videos
    assert sorted(r['video_index'] for r in videos) == [0, 1, 2]


def test_num_frames_and_config_pipeline(retrieval, clips):
    steps = video_pipeline_cfg(retrieval, num_frames=6)
    assert steps[0]['num_frames'] == 6 and steps[0]['scale'] == 32
    out = inference_model(retrieval, clips[:1], TEXTS, num_frames=6)
    assert len(out[0]) == 3


def test_video_qa_answers(vocab, clips):
    model = build(
        BlipVideoVQA,
        tokenizer=dict(name_or_path=vocab),
        answer_list=['yes', 'no', 'red', 'blue'],
        num_frames=3,
    )
    out = inference_model(model, clips, 'what color is the circle?')
    assert len(out) == 3 and all(o['pred_answer'] in ('yes', 'no', 'red', 'blue') for o in out)
    gen = inference_model(model, clips[0], 'is there a red square?', method='generate')
    assert isinstance(gen['pred_answer'], str)
    with pytest.raises(ValueError, match='2 questions for 3 videos'):
        inference_model(model, clips, ['what color?', 'what?'])


def test_missing_and_broken_videos_fail_clearly(retrieval, tmp_path):
    missing = str(tmp_path / 'nope.mp4')
    with pytest.raises(FileNotFoundError, match='nope.mp4'):
        inference_model(retrieval, missing, TEXTS)
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'\x00' * 64)
    with pytest.raises(UnreadableVideoError, match='broken.mp4'):
        inference_model(retrieval, str(broken), TEXTS)
    with pytest.raises(TypeError, match='file path'):
        inference_model(retrieval, [np.zeros((2, 8, 8, 3), np.uint8)], TEXTS)
