"""Video loading (PyAV), the video datasets' annotation formats and the shapes-world clips."""

import json
import os

import numpy as np
import pytest

from blip_plugin.datasets.shapes_world_video import make_shapes_video, write_clip
from blip_plugin.datasets.transforms.load_video import (
    BlipLoadVideo,
    UnreadableVideoError,
    read_video,
    sample_frame_indices,
)
from blip_plugin.datasets.video import MSRVTTRetrieval, VideoQA


def frames(n: int, size: int = 32) -> np.ndarray:
    """n frames, each a flat colour that encodes its index (survives lossy coding)."""
    out = np.zeros((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        out[i, :, :, 0] = 8 * i
        out[i, :, :, 1] = 255 - 8 * i
    return out


def index_of(frame: np.ndarray) -> int:
    return int(round(float(frame[..., 0].mean()) / 8))


@pytest.fixture(scope='module')
def clip(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp('clips') / 'clip.mp4')
    write_clip(path, frames(30), fps=10)
    return path


@pytest.mark.parametrize('total', [1, 3, 7, 8, 9, 30, 100, 301, 999])
@pytest.mark.parametrize('n', [1, 4, 8, 16])
def test_uniform_sampling_is_the_official_integer_arange(total, n):
    got = sample_frame_indices(total, n, 'uniform')
    assert got.shape == (n,) and got.min() >= 0 and got.max() < total
    if total >= n:  # official data/video_dataset.py, numpy's truncated integer step included
        assert np.array_equal(got, np.arange(0, total, total / n, dtype=int))
    middle = sample_frame_indices(total, n, 'middle')
    assert middle.max() < total and np.all(np.diff(middle) >= 0)
    with pytest.raises(ValueError, match='sampling'):
        sample_frame_indices(total, n, 'random')


@pytest.mark.parametrize('n', [4, 8, 30])
def test_seeking_decodes_the_sampled_frames(clip, n):
    got, indices, total, ori = read_video(clip, n, 'uniform')
    assert total == 30 and ori == (32, 32) and got.shape == (n, 32, 32, 3)
    assert [index_of(f) for f in got] == indices.tolist()
    small, _, _, _ = read_video(clip, n, 'middle', size=(16, 12))
    assert small.shape == (n, 12, 16, 3) and small.dtype == np.uint8


def test_load_video_transform_and_cache(clip, tmp_path):
    load = BlipLoadVideo(num_frames=4, scale=16, cache_dir=str(tmp_path / 'cache'))
    out = load(dict(video_path=clip))
    assert out['video'].shape == (4, 3, 16, 16) and out['video'].dtype == np.uint8
    assert out['frame_inds'].tolist() == [0, 7, 14, 21] and out['total_frames'] == 30
    assert len(os.listdir(tmp_path / 'cache')) == 1
    # the disk cache serves a fresh transform (another worker, another run) without decoding
    fresh = BlipLoadVideo(num_frames=4, scale=16, cache_dir=str(tmp_path / 'cache'))
    cached = os.path.join(tmp_path / 'cache', os.listdir(tmp_path / 'cache')[0])
    with np.load(cached) as z:
        marked = dict(z)
    marked['frames'] = np.zeros_like(marked['frames']) + 7
    np.savez(cached, **marked)
    assert (fresh(dict(video_path=clip))['video'] == 7).all()
    # the memory cache serves the first transform again, and another frame count misses it
    assert np.array_equal(load(dict(video_path=clip))['video'], out['video'])
    other = BlipLoadVideo(num_frames=2, scale=16, cache_dir=str(tmp_path / 'cache'))
    assert other(dict(video_path=clip))['video'].shape == (2, 3, 16, 16)


def test_unreadable_videos_name_file_and_annotation(tmp_path):
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video at all')
    load = BlipLoadVideo(num_frames=2, scale=16)
    for path in (str(tmp_path / 'missing.mp4'), str(broken)):
        with pytest.raises(UnreadableVideoError) as err:
            load(dict(video_path=path, gt_caption=['a red circle'], image_idx=3))
        assert path in str(err.value) and 'a red circle' in str(err.value)
    assert 'file not found' in str(
        pytest.raises(UnreadableVideoError, load, dict(video_path=str(tmp_path / 'x.mp4'))).value
    )
    skip = BlipLoadVideo(num_frames=2, on_error='skip')
    assert skip(dict(video_path=str(broken))) is None and skip.skipped == 1


def test_msrvtt_retrieval_official_jsonl(tmp_path):
    lines = [
        dict(clip_name='video7020', caption='A woman is Singing!'),
        dict(clip_name='video9770', caption='a man plays guitar'),
        dict(clip_name='video7020', caption='someone sings on stage'),
    ]
    ann = tmp_path / 'msrvtt_test.jsonl'
    ann.write_text(''.join(json.dumps(x) + '\n' for x in lines))
    ds = MSRVTTRetrieval(str(ann), data_prefix=dict(video_path='/videos'))
    assert len(ds) == 2 and ds.num_videos == 2
    first = ds.get_data_info(0)
    assert first['video_path'] == '/videos/video7020.mp4'
    assert first['gt_caption'] == ['a woman is singing', 'someone sings on stage']
    assert first['text_idx'] == [0, 2] and ds.txt2img == [0, 1, 0]
    assert ds.img2txt == [[0, 2], [1]]
    ann.write_text(json.dumps(dict(clip_name='video1')) + '\n')
    with pytest.raises(ValueError, match="line 1.*'caption'"):
        MSRVTTRetrieval(str(ann))


def test_video_qa_formats(tmp_path):
    msrvtt = [
        dict(answer='man', id=5, question='Who is singing?', video_id=7010, category_id=2),
        dict(answer='two', id=6, question='how many dogs are there', video_id=7011),
    ]
    (tmp_path / 'test_qa.json').write_text(json.dumps(msrvtt))
    ds = VideoQA('test_qa.json', data_root=str(tmp_path), data_prefix=dict(video_path='videos'))
    info = ds.get_data_info(0)
    assert info['video_path'] == os.path.join(str(tmp_path), 'videos', 'video7010.mp4')
    assert info['question'] == 'who is singing?' and info['question_id'] == 5
    assert info['gt_answer'] == ['man'] and info['answer_type'] == 'who'
    # MSVD-QA: video_id N is "vidN" of youtube_mapping.txt
    (tmp_path / 'youtube_mapping.txt').write_text('-4wsuPCjDBc_5_15 vid1\nabc_1_2 vid2\n')
    (tmp_path / 'msvd.json').write_text(json.dumps([dict(msrvtt[0], video_id=2)]))
    msvd = VideoQA(
        'msvd.json',
        data_root=str(tmp_path),
        video_name='{}.avi',
        video_mapping='youtube_mapping.txt',
    )
    assert msvd.get_data_info(0)['video_path'].endswith('abc_1_2.avi')
    (tmp_path / 'msvd.json').write_text(json.dumps([dict(msrvtt[0], video_id=3)]))
    with pytest.raises(ValueError, match='video_id 3'):
        VideoQA('msvd.json', data_root=str(tmp_path), video_mapping='youtube_mapping.txt')
    # LAVIS's layout names the file
    lavis = [dict(video='video7010.mp4', question='what is he doing', answer='sing', question_id=1)]
    (tmp_path / 'lavis.json').write_text(json.dumps(lavis))
    info = VideoQA('lavis.json', data_root=str(tmp_path)).get_data_info(0)
    assert info['video_path'].endswith('video7010.mp4') and info['answer_type'] == 'what'


def test_shapes_world_clips(tmp_path):
    meta = make_shapes_video(str(tmp_path), num_val=2, num_test=6, num_frames=8, image_size=32)
    assert meta['counts']['clips'] == dict(val=2, test=6)
    base = tmp_path / 'video'
    ds = MSRVTTRetrieval(
        'annotations/retrieval_test.jsonl',
        data_root=str(base),
        data_prefix=dict(video_path='clips'),
    )
    assert len(ds) == 6 and ds.get_data_info(0)['video_path'].endswith('video2.mp4')
    qa = VideoQA(
        'annotations/qa_test.json', data_root=str(base), data_prefix=dict(video_path='clips')
    )
    assert len(qa) == 18 and os.path.isfile(qa.get_data_info(0)['video_path'])
    answers = json.loads((base / 'annotations' / 'answer_list.json').read_text())
    assert all(qa.get_data_info(i)['gt_answer'][0] in answers for i in range(len(qa)))
    clip, _, total, _ = read_video(ds.get_data_info(0)['video_path'], 8)
    assert total == 8 and clip.shape == (8, 32, 32, 3)
    assert not np.array_equal(clip[0], clip[-1])  # the shapes move
    # a late shape is absent from the first half and present in the second: more shape pixels
    truth = json.loads((base / 'annotations' / 'clips_test.json').read_text())
    late = [t for t in truth if t['late'] is not None]
    assert late and all(len(t['shapes']) >= 2 for t in late)
    for t in late:
        clip, _, _, _ = read_video(str(base / 'clips' / f'video{t["video_id"]}.mp4'), 8)
        saturated = (clip.max(-1).astype(int) - clip.min(-1)) > 60  # (T, H, W) shape pixels
        per_frame = saturated.sum((1, 2))
        assert per_frame[4:].mean() > per_frame[:4].mean() + 8, (t, per_frame)
    again = make_shapes_video(str(tmp_path / 'again'), 2, 6, 8, 32)
    assert again == meta
    for name in ('retrieval_test.jsonl', 'qa_test.json', 'clips_test.json'):
        a = (base / 'annotations' / name).read_text()
        assert a == (tmp_path / 'again' / 'video' / 'annotations' / name).read_text()
