"""WebShardPairs: tar shards written from the shapes world's web pairs read back exactly once
per epoch over ranks x workers, reshuffled per epoch, corrupt samples raised or counted, and
a tiny BlipPretrain trained from shards through MMEngine's Runner."""

import json
import os.path as osp
import sys

import mmcv
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from blip_plugin.datasets import WebShardPairs, pairs_to_shards, pre_caption
from blip_plugin.registry import RUNNERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(REPO, 'configs/toy/blip-tiny_1xb32_shapes-pretrain-shards.py')
NUM_SHARDS = 8


@pytest.fixture(scope='module')
def shards(shapes_world_root: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The world's 64 web pairs as 8 shards; returns the brace pattern."""
    out = tmp_path_factory.mktemp('shards')
    paths = pairs_to_shards(
        [osp.join(shapes_world_root, 'annotations', 'web_pairs.json')],
        str(out / 'web-%05d.tar'),
        image_root=shapes_world_root,
        num_shards=NUM_SHARDS,
    )
    assert len(paths) == NUM_SHARDS
    return str(out / 'web-{00000..00007}.tar')


def web_pairs(root: str) -> list:
    with open(osp.join(root, 'annotations', 'web_pairs.json'), encoding='utf-8') as f:
        return json.load(f)


def keys_of(samples) -> list:
    return [(s['shard'], s['key']) for s in samples]


def identity(batch):
    return batch


def read_rank(pattern: str, rank: int, epoch: int, num_workers: int = 2) -> list:
    """What rank ``rank`` of 2 reads in ``epoch``, through a real 2-worker DataLoader."""
    ds = WebShardPairs(pattern, rank=rank, world_size=2, shuffle_buffer=4)
    ds.set_epoch(epoch)
    loader = DataLoader(ds, batch_size=None, num_workers=num_workers, collate_fn=identity)
    return [(s['shard'], s['key'], s['gt_caption']) for s in loader]


def test_round_trip_matches_the_json_pairs(shapes_world_root, shards):
    pairs = web_pairs(shapes_world_root)
    samples = list(WebShardPairs(shards, shuffle_buffer=0, shuffle_shards=False))
    assert len(samples) == len(pairs) == 64
    for s in samples:
        pair = pairs[int(s['key'])]
        assert s['gt_caption'] == pre_caption(pair['caption'], 30)
        expected = mmcv.imread(osp.join(shapes_world_root, pair['image']))  # LoadImageFromFile
        assert s['img'].dtype == expected.dtype and (s['img'] == expected).all()
        assert s['img_shape'] == expected.shape[:2]


def test_every_pair_once_per_epoch_over_2_ranks_x_2_workers(shards):
    epochs = {}
    for epoch in (0, 1):
        per_rank = [read_rank(shards, rank, epoch) for rank in (0, 1)]
        both = per_rank[0] + per_rank[1]
        keys = [k for _, k, _ in both]
        assert len(keys) == len(set(keys)) == 64  # no duplicates, none missing
        assert set(keys) == {f'{i:09d}' for i in range(64)}
        # each shard went to one rank (and, inside it, to one worker)
        shard_ranks = {}
        for rank, samples in enumerate(per_rank):
            for shard, _, _ in samples:
                shard_ranks.setdefault(shard, set()).add(rank)
        assert len(shard_ranks) == NUM_SHARDS and all(len(r) == 1 for r in shard_ranks.values())
        epochs[epoch] = per_rank
    assert epochs[0] != epochs[1]  # reshuffled per epoch
    assert read_rank(shards, 0, 1) == epochs[1][0]  # and reproducibly


def test_shard_to_reader_assignment(shards):
    ds = WebShardPairs(shards, rank=1, world_size=2)
    readers = [ds.reader_shards(3, r, 4) for r in range(4)]
    flat = sum(readers, [])
    assert sorted(flat) == sorted(ds.urls) and len(set(flat)) == NUM_SHARDS
    assert any(ds.reader_shards(3, r, 4) != ds.reader_shards(4, r, 4) for r in range(4))


def test_num_samples_sets_the_epoch_length(shards):
    ds = WebShardPairs(shards, num_samples=100, rank=0, world_size=2, shuffle_buffer=8)
    assert len(ds) == 50
    samples = list(ds)  # 50 of the rank's 32 pairs: its shards are read again, reshuffled
    assert len(samples) == 50 and len(set(keys_of(samples))) == 32
    short = WebShardPairs(shards, num_samples=20, rank=1, world_size=2)
    assert len(list(short)) == 10
    with pytest.raises(TypeError, match='num_samples'):
        len(WebShardPairs(shards))


def write_shard(path: str, samples: list) -> None:
    import webdataset as wds

    with wds.TarWriter(path) as sink:
        for sample in samples:
            sink.write(sample)


@pytest.fixture
def corrupt_shard(shapes_world_root, tmp_path) -> str:
    pairs = web_pairs(shapes_world_root)[:3]
    samples = []
    for i, pair in enumerate(pairs):
        with open(osp.join(shapes_world_root, pair['image']), 'rb') as f:
            samples.append({'__key__': f'ok{i}', 'png': f.read(), 'txt': pair['caption']})
    samples.insert(1, {'__key__': 'broken', 'jpg': b'not an image', 'txt': 'a red circle'})
    samples.append({'__key__': 'nocaption', 'png': samples[0]['png']})
    path = str(tmp_path / 'corrupt.tar')
    write_shard(path, samples)
    return path


def test_corrupt_image_raises_naming_shard_and_key(corrupt_shard):
    with pytest.raises(ValueError, match=r'corrupt\.tar key .broken.: undecodable image'):
        list(WebShardPairs(corrupt_shard, shuffle_buffer=0))


def test_corrupt_samples_skipped_and_counted(corrupt_shard):
    ds = WebShardPairs(corrupt_shard, shuffle_buffer=0, on_error='skip')
    assert [s['key'] for s in ds] == ['ok0', 'ok1', 'ok2']
    assert ds.num_skipped == 2  # the broken image and the missing caption


def test_json_captions_one_sample_each(shapes_world_root, tmp_path):
    pair = web_pairs(shapes_world_root)[0]
    with open(osp.join(shapes_world_root, pair['image']), 'rb') as f:
        png = f.read()
    caps = {'caption': ['A red circle.', 'Two  shapes!']}
    write_shard(str(tmp_path / 'j.tar'), [{'__key__': 'k', 'png': png, 'json': caps}])
    ds = WebShardPairs(str(tmp_path / 'j.tar'), caption_ext='json')
    assert [s['gt_caption'] for s in ds] == ['a red circle', 'two shapes']
    bad = WebShardPairs(str(tmp_path / 'j.tar'), caption_ext='json', caption_key='text')
    with pytest.raises(ValueError, match="j.tar key 'k': .json has no 'text'"):
        list(bad)


def test_configuration_errors(shards, monkeypatch):
    with pytest.raises(ValueError, match='LoadImageFromFile'):
        WebShardPairs(shards, pipeline=[dict(type='LoadImageFromFile')])
    with pytest.raises(ValueError, match='on_error'):
        WebShardPairs(shards, on_error='ignore')
    few = WebShardPairs(shards.replace('00007', '00000'), num_samples=8, rank=1, world_size=2)
    with pytest.raises(ValueError, match='1 shards cannot feed 2 readers'):
        list(few)
    monkeypatch.setitem(sys.modules, 'webdataset', None)
    with pytest.raises(ImportError, match=r'pip install "blip-plugin\[web\]"'):
        WebShardPairs(shards)


def test_toy_pretraining_from_shards_through_the_runner(shapes_world_root, shards, tmp_path):
    init_default_scope('blip_plugin')
    cfg = Config.fromfile(TOY)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.model.tokenizer.name_or_path = osp.join(shapes_world_root, 'tokenizer')
    cfg.model.queue_size = 64
    loader = cfg.train_dataloader
    loader.dataset.shards = shards
    loader.dataset.data_root = ''
    loader.dataset.num_samples = 32
    loader.batch_size = 8
    loader.num_workers = 0
    loader.persistent_workers = False
    cfg.train_cfg.max_epochs = 2
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    runner = RUNNERS.build(cfg)
    seen = []
    dataset = runner.train_dataloader.dataset
    original = dataset.set_epoch
    dataset.set_epoch = lambda epoch: (seen.append(epoch), original(epoch))[1]
    runner.train()
    assert runner.iter == 8 and seen == [0, 1]  # 32 pairs / 8 per batch x 2 epochs
    logs = runner.message_hub.log_scalars
    assert all(torch.isfinite(torch.tensor(logs[k].current())) for k in ('train/loss_itc',))


def test_glob_patterns_and_the_converter_cli(shapes_world_root, tmp_path):
    import runpy

    main = runpy.run_path(osp.join(REPO, 'tools/dataset_converters/pairs_to_shards.py'))['main']
    ann = osp.join(shapes_world_root, 'annotations', 'web_pairs.json')
    out = str(tmp_path / 'out' / 'part-%03d.tar')
    written = main(
        [ann, '--out', out, '--image-root', shapes_world_root, '--samples-per-shard', '20']
    )
    assert [osp.basename(p) for p in written] == [f'part-00{i}.tar' for i in range(4)]  # 64 / 20
    ds = WebShardPairs('part-*.tar', data_root=str(tmp_path / 'out'), shuffle_buffer=0)
    assert ds.urls == written and len(list(ds)) == 64
    with pytest.raises(FileNotFoundError, match=r'no shard matches .*nothing-\*\.tar'):
        WebShardPairs('nothing-*.tar', data_root=str(tmp_path))


@pytest.mark.parametrize(
    'name',
    [
        'blip/blip-base_2x16xb90_pretrain-cc12m-shards.py',
        'blip/blip-base_2x16xb90_pretrain-129m.py',
        'blip/blip-base_2x16xb90_pretrain-129m-capfilt-l.py',
        'blip/blip-large_2x16xb75_pretrain-129m.py',
        'toy/blip-tiny_1xb32_shapes-pretrain-shards.py',
    ],
)
def test_shard_configs(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    loader = cfg.train_dataloader
    assert loader.sampler is None and loader.dataset.type == 'WebShardPairs'
    assert cfg.default_hooks.sampler_seed == dict(type='DatasetEpochHook')
    assert loader.dataset.num_samples > 0 and cfg.train_cfg.by_epoch
    assert all(t['type'] != 'LoadImageFromFile' for t in loader.dataset.pipeline)
    if name.startswith('blip/'):
        assert loader.batch_size * 32 == (2400 if 'large' in name else 2880)  # paper 4.1
