"""Shapes-world clips: short videos of moving shapes, with captions and questions in the real
video datasets' formats, for zero-shot video retrieval and video QA with models trained on the
shapes-world images (paper section 5.6, scaled down).

``make_shapes_video(root)`` writes, under ``root/video``::

    meta.json                                 generator args and counts (returned)
    clips/video{id}.mp4                       H.264 clips (MPEG-4 part 2 where FFmpeg has no
                                              libx264); ids are global (val 0.., then test),
                                              named as MSR-VTT's
    annotations/
      retrieval_{val,test}.jsonl              MSR-VTT retrieval (official msrvtt_test.jsonl):
                                              one line {"clip_name": "video<id>", "caption"}
                                              per clip
      qa_{val,test}.json                      MSRVTT-QA: [{"answer", "id", "question",
                                              "video_id": <id>}], three questions per clip
      answer_list.json                        every candidate answer
      clips_{val,test}.json                   per clip: its shapes and which one appears late

A clip shows the 1-3 shapes of a shapes-world scene drifting in a straight line (at most
``MAX_DRIFT`` of the side, passing their anchor mid-clip, so captions that name positions stay
true). In about half of the clips with two or more shapes, one shape appears only in the second
half: its caption and the questions still count it, so a model that looks at one frame misses
it, and one that reads the concatenated frames does not. Captions and questions are the image
world's templates over the same vocabulary, so the image world's tokenizer covers them.
"""

import json
import os
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from .shapes_world_scene import draw_scene, sample_scene
from .shapes_world_text import answer_candidates, captions_for, questions_for

__all__ = ['make_shapes_video', 'VIDEO_FORMAT_VERSION', 'VIDEO_SPLITS', 'MAX_DRIFT']

VIDEO_FORMAT_VERSION = 1
VIDEO_SPLITS = ('val', 'test')
MAX_DRIFT = 0.12  # fraction of the side a shape travels over a clip
LATE_PROBABILITY = 0.5  # of a clip with >= 2 shapes having one that appears halfway
FPS = 8


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, 100 + stream])  # streams apart from the image world's


def _clip_frames(rng: np.random.Generator, image_size: int, num_frames: int) -> tuple:
    """(shapes, index of the late shape or None, frames as (T, H, W, 3) uint8 RGB)."""
    shapes, spec = sample_scene(rng, image_size)
    angles = rng.uniform(0, 2 * np.pi, size=len(shapes))
    lengths = rng.uniform(0.5, 1.0, size=len(shapes)) * MAX_DRIFT * image_size
    drift = np.stack([np.cos(angles), np.sin(angles)], 1) * lengths[:, None]  # (S, 2) pixels
    late = None
    if len(shapes) >= 2 and rng.random() < LATE_PROBABILITY:
        late = int(rng.integers(len(shapes)))
    frames = []
    for t in range(num_frames):
        step = t / max(num_frames - 1, 1) - 0.5  # -0.5 .. 0.5: the anchor is passed mid-clip
        visible = [k for k in range(len(shapes)) if k != late or t >= num_frames // 2]
        geometry = [
            [(x + step * drift[k, 0], y + step * drift[k, 1]) for x, y in spec['geometry'][k]]
            for k in visible
        ]
        image = draw_scene([shapes[k] for k in visible], dict(spec, geometry=geometry), image_size)
        frames.append(np.asarray(image))
    return shapes, late, np.stack(frames)


def write_clip(path: str, frames: np.ndarray, fps: int = FPS) -> str:
    """Encode (T, H, W, 3) uint8 RGB frames as an mp4 (H.264, else MPEG-4 part 2); returns the
    codec used."""
    import av  # PyAV: the ``video`` extra

    codec = 'libx264' if 'libx264' in av.codecs_available else 'mpeg4'
    with av.open(path, mode='w') as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = 'yuv420p'
        # near-lossless: the shapes' colours survive the 4:2:0 chroma of 64 px frames
        stream.options = {'crf': '10'} if codec == 'libx264' else {'qscale': '2'}
        stream.codec_context.thread_count = 1  # the same bytes on every run
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return codec


def _dump(obj: object, path: str, lines: bool = False) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        if lines:
            f.write(''.join(json.dumps(o) + '\n' for o in obj))
        else:
            f.write(json.dumps(obj))


def make_shapes_video(
    root: str,
    num_val: int = 50,
    num_test: int = 100,
    num_frames: int = 16,
    image_size: int = 64,
    seed: int = 0,
) -> dict:
    """Write the shapes-world clips under ``root/video`` (layout in the module docstring).

    Args:
        root: the shapes world's root (``make_shapes_world``); its tokenizer covers the texts.
        num_val: val clips. Defaults to 50.
        num_test: test clips. Defaults to 100.
        num_frames: frames per clip. Defaults to 16.
        image_size: side of the square frames in pixels. Defaults to 64.
        seed: seed of every random choice. Defaults to 0.

    Returns:
        The content of ``video/meta.json``: ``args``, ``counts``, ``codec`` and
        ``format_version``.
    """
    counts = dict(val=num_val, test=num_test)
    if min(counts.values()) < 1 or num_frames < 2 or image_size < 16 or image_size % 2:
        raise ValueError(
            f'need >= 1 clip per split, >= 2 frames and an even image_size >= 16, got counts '
            f'{counts}, num_frames {num_frames}, image_size {image_size}'
        )
    base = osp.join(root, 'video')
    ann_dir = osp.join(base, 'annotations')
    os.makedirs(osp.join(base, 'clips'), exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    scene_rng, text_rng = _rng(seed, 0), _rng(seed, 1)
    video_id, qid, codec = 0, 0, None
    late_counts: Dict[str, int] = {}
    num_questions: Dict[str, int] = {}
    for split in VIDEO_SPLITS:
        retrieval: List[dict] = []
        qa: List[dict] = []
        truth: List[dict] = []
        for _ in range(counts[split]):
            shapes, late, frames = _clip_frames(scene_rng, image_size, num_frames)
            codec = write_clip(osp.join(base, 'clips', f'video{video_id}.mp4'), frames)
            captions = captions_for(shapes)
            caption = captions[int(text_rng.integers(len(captions)))]
            retrieval.append(dict(clip_name=f'video{video_id}', caption=caption))
            for question, answer in questions_for(shapes, text_rng):
                qa.append(dict(answer=answer, id=qid, question=question, video_id=video_id))
                qid += 1
            truth.append(
                dict(
                    video_id=video_id,
                    shapes=[f'{s.size} {s.colour} {s.kind} {s.position}' for s in shapes],
                    late=late,
                )
            )
            video_id += 1
        _dump(retrieval, osp.join(ann_dir, f'retrieval_{split}.jsonl'), lines=True)
        _dump(qa, osp.join(ann_dir, f'qa_{split}.json'))
        _dump(truth, osp.join(ann_dir, f'clips_{split}.json'))
        late_counts[split] = sum(t['late'] is not None for t in truth)
        num_questions[split] = len(qa)
    _dump(answer_candidates(), osp.join(ann_dir, 'answer_list.json'))
    meta = dict(
        name='shapes_world_video',
        format_version=VIDEO_FORMAT_VERSION,
        args=dict(
            num_val=num_val,
            num_test=num_test,
            num_frames=num_frames,
            image_size=image_size,
            seed=seed,
        ),
        codec=codec,
        counts=dict(clips=counts, clips_with_late_shape=late_counts, questions=num_questions),
    )
    _dump(meta, osp.join(base, 'meta.json'))
    return meta


def existing_video_meta(root: str) -> Optional[dict]:
    """The ``video/meta.json`` of a previous generation, or None."""
    path = osp.join(root, 'video', 'meta.json')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
