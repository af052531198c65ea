"""The sharded CapFilt job: output format, merge counts, resume after an interruption,
unreadable images, and the settings' checks."""

import json
import os
import shutil

import pytest
from mmengine.logging import MMLogger

import blip_plugin.capfilt.runner as runner_module
from blip_plugin.apis.pipeline import build_inference_pipeline
from blip_plugin.capfilt import (
    AnnotationSource,
    CapFiltImageError,
    CapFiltSettings,
    merge_shards,
    read_shard_records,
    run_capfilt,
)

from .conftest import NUM_WEB, settings


def run(world, out: str, web: str = None, **kwargs) -> dict:
    s = CapFiltSettings.from_cfg(settings(image_root=world.root, **kwargs))
    return run_capfilt(
        world.captioner,
        world.filter,
        AnnotationSource(web or world.web, image_root=s.image_root),
        out,
        build_inference_pipeline(None, world.captioner),
        s,
        human_ann=world.human,
    )


def read(path: str):
    with open(path, encoding='utf-8') as f:
        return f.read()


@pytest.fixture(scope='module')
def straight(world, tmp_path_factory) -> str:
    """One uninterrupted run, shared by the tests that compare with it."""
    out = str(tmp_path_factory.mktemp('straight'))
    run(world, out)
    return out


def test_output_format_and_counts(world, straight):
    shards = sorted(os.listdir(os.path.join(straight, 'shards')))
    assert shards == [f'shard_{s:05d}.jsonl' for s in range(4)]  # 13 pairs, shards of 4
    records = read_shard_records(straight)
    assert [r['index'] for r in records] == list(range(NUM_WEB))
    web = json.loads(read(world.web))
    for rec, ann in zip(records, web):
        assert rec['image'] == ann['image']
        assert [w['caption'] for w in rec['web']] == [ann['caption']]
        assert len(rec['synthetic']) == 2  # num_captions
        for t in rec['web'] + rec['synthetic']:
            assert isinstance(t['caption'], str) and 0.0 <= t['score'] <= 1.0
        assert rec['synthetic'][0]['caption'] != rec['synthetic'][1]['caption']  # sampled

    # a threshold in the middle of the scores keeps some texts and removes others
    scores = sorted(t['score'] for r in records for t in r['web'] + r['synthetic'])
    threshold = scores[len(scores) // 2]
    summary = merge_shards(straight, threshold=threshold, human_ann=world.human)
    out = json.loads(read(os.path.join(straight, 'bootstrapped.json')))
    assert all(set(p) == {'image', 'caption'} for p in out)
    assert out[:2] == json.loads(read(world.human))  # human pairs first
    expected = [
        dict(image=r['image'], caption=t['caption'])
        for r in records
        for t in r['web'] + r['synthetic']
        if t['score'] > threshold and t['caption'].strip()
    ]
    assert out[2:] == expected
    web_c, syn_c = summary['web_texts'], summary['synthetic_captions']
    assert web_c['total'] == NUM_WEB and syn_c['total'] == 2 * NUM_WEB
    assert 0 < web_c['kept'] + syn_c['kept'] < 3 * NUM_WEB
    assert web_c['kept'] + web_c['removed'] == NUM_WEB
    assert summary['output_pairs'] == 2 + web_c['kept'] + syn_c['kept'] == len(out)
    assert json.loads(read(os.path.join(straight, 'summary.json')))['threshold'] == threshold


def test_resume_after_interruption_equals_straight_run(world, straight, tmp_path, monkeypatch):
    out = str(tmp_path / 'resumed')
    real = runner_module.process_batch
    calls = []

    def dying(*args, **kwargs):  # the 5th batch: shards 0 and 1 (2 batches each) are done
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt('killed')
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, 'process_batch', dying)
    with pytest.raises(KeyboardInterrupt):
        run(world, out)
    monkeypatch.setattr(runner_module, 'process_batch', real)
    assert sorted(os.listdir(os.path.join(out, 'shards'))) == [
        'shard_00000.jsonl',
        'shard_00001.jsonl',
    ]
    assert not os.path.exists(os.path.join(out, 'bootstrapped.json'))
    # what a write killed before its rename leaves: a partial temp file, never a shard
    with open(os.path.join(out, 'shards', '.shard_00002.jsonl.x1y2.tmp'), 'w') as f:
        f.write('{"index": 8, "ima')

    summary = run(world, out)
    assert summary['this_run']['images'] == NUM_WEB - 8  # only the two shards left
    for name in sorted(os.listdir(os.path.join(straight, 'shards'))):
        assert read(os.path.join(out, 'shards', name)) == read(
            os.path.join(straight, 'shards', name)
        )
    merge_shards(straight, human_ann=world.human)  # the straight run at the default threshold
    assert read(os.path.join(out, 'bootstrapped.json')) == read(
        os.path.join(straight, 'bootstrapped.json')
    )
    # a third run has nothing to do
    assert run(world, out)['this_run']['images'] == 0


def test_other_settings_in_the_same_out_dir_are_refused(world, straight, tmp_path):
    out = str(tmp_path / 'copy')
    shutil.copytree(straight, out)
    with pytest.raises(ValueError, match=r'another CapFilt job \(seed: 7 -> 8\)'):
        run(world, out, seed=8)


def test_unreadable_image_is_named_or_skipped_and_counted(world, tmp_path):
    web = json.loads(read(world.web))
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'not a png')
    web[5] = dict(image=str(bad), caption='a red square')
    web_file = str(tmp_path / 'web_bad.json')
    with open(web_file, 'w') as f:
        json.dump(web, f)
    with pytest.raises(
        CapFiltImageError, match=r'web_bad.json annotation 5: cannot read image .*broken.png'
    ):
        run(world, str(tmp_path / 'stop'), web=web_file)

    logger = MMLogger.get_current_instance()
    messages = []
    handler = type(
        'H',
        (__import__('logging').Handler,),
        {'emit': lambda self, r: messages.append(r.getMessage())},
    )()
    logger.addHandler(handler)
    try:
        summary = run(world, str(tmp_path / 'skip'), web=web_file, skip_unreadable=True)
    finally:
        logger.removeHandler(handler)
    assert summary['unreadable_images'] == 1 and summary['this_run']['skipped_unreadable'] == 1
    assert summary['web_texts']['total'] == NUM_WEB - 1
    assert any('skipped unreadable image' in m and 'broken.png' in m for m in messages)
    records = read_shard_records(str(tmp_path / 'skip'))
    assert 'broken.png' in records[5]['error'] and 'web' not in records[5]


def test_missing_image_file_is_named(world, tmp_path):
    web = json.loads(read(world.web))
    web[2]['image'] = 'images/nowhere.png'
    web_file = str(tmp_path / 'web_missing.jsonl')
    with open(web_file, 'w') as f:
        f.write(''.join(json.dumps(a) + '\n' for a in web))
    with pytest.raises(CapFiltImageError, match=r'web_missing.jsonl line 3: .*nowhere.png'):
        run(world, str(tmp_path / 'out'), web=web_file)


def test_settings_name_bad_keys():
    with pytest.raises(KeyError, match="unknown capfilt setting.*'top_q'"):
        CapFiltSettings.from_cfg(dict(top_q=0.9))
    with pytest.raises(ValueError, match='capfilt.shard_size'):
        CapFiltSettings.from_cfg(dict(shard_size=0))
