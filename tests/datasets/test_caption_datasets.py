"""Caption datasets: each annotation format, clear errors, and the shapes test pipeline."""

import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from blip_plugin.datasets import BlipCOCOCaption, BlipFlickr30kCaption, BlipNoCaps
from blip_plugin.registry import DATASETS

# BaseDataset's serialize_data runs gc.collect(), about a second once torch is imported.
FAST = dict(serialize_data=False)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', '_base_', 'datasets')


def write(tmp_path, name: str, obj: object) -> str:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(path)


KARPATHY_TRAIN = [
    {
        'image': 'train2014/COCO_train2014_000000000009.jpg',
        'caption': 'A cat.',
        'image_id': 'coco_9',
    },
    {
        'image': 'train2014/COCO_train2014_000000000009.jpg',
        'caption': 'A dog',
        'image_id': 'coco_9',
    },
]
KARPATHY_VAL = [{'image': 'val2014/COCO_val2014_000000184613.jpg', 'caption': ['a', 'b', 'c']}]


@pytest.mark.parametrize('cls', [BlipCOCOCaption, BlipFlickr30kCaption])
def test_karpathy_train_and_val(tmp_path, cls: type) -> None:
    write(tmp_path, 'train.json', KARPATHY_TRAIN)
    write(tmp_path, 'val.json', KARPATHY_VAL)
    train = cls(
        data_root=str(tmp_path), ann_file='train.json', data_prefix=dict(img_path='img'), **FAST
    )
    assert len(train) == 2
    assert train.get_data_info(1)['gt_caption'] == 'A dog'
    assert train.get_data_info(0)['image_id'] == 9
    assert train.get_data_info(0)['img_path'] == osp.join(
        str(tmp_path), 'img', 'train2014/COCO_train2014_000000000009.jpg'
    )
    val = cls(ann_file=str(tmp_path / 'val.json'), **FAST)
    info = val.get_data_info(0)
    assert info['gt_caption'] == ['a', 'b', 'c'] and info['image_id'] == 184613
    assert info['img_path'] == 'val2014/COCO_val2014_000000184613.jpg'


def test_flickr_numeric_stem(tmp_path) -> None:
    write(tmp_path, 'f.json', [{'image': 'flickr30k-images/1000092795.jpg', 'caption': 'x'}])
    assert (
        BlipFlickr30kCaption(ann_file=str(tmp_path / 'f.json'), **FAST)[0]['image_id'] == 1000092795
    )


def test_nocaps_both_formats(tmp_path) -> None:
    write(tmp_path, 'list.json', [{'image': 'val/0013ea2087020901.jpg', 'img_id': 0}])
    gt = {
        'images': [{'id': 0, 'file_name': 'val/a.jpg'}, {'id': 1, 'file_name': 'val/b.jpg'}],
        'annotations': [
            {'image_id': 0, 'caption': 'one', 'id': 0},
            {'image_id': 0, 'caption': 'two', 'id': 1},
            {'image_id': 1, 'caption': 'three', 'id': 2},
        ],
    }
    write(tmp_path, 'gt.json', gt)
    plain = BlipNoCaps(ann_file=str(tmp_path / 'list.json'), **FAST)
    assert plain.get_data_info(0) == {
        'img_path': 'val/0013ea2087020901.jpg',
        'image_id': 0,
        'sample_idx': 0,
    }
    coco = BlipNoCaps(data_root=str(tmp_path), ann_file='gt.json', **FAST)
    assert len(coco) == 2
    assert coco.get_data_info(0)['gt_caption'] == ['one', 'two']
    assert coco.get_data_info(1)['img_path'] == osp.join(str(tmp_path), 'val/b.jpg')


@pytest.mark.parametrize(
    'content, match',
    [
        (None, 'does not exist'),
        ('{not json', 'not valid json'),
        ({'images': []}, 'expected a json list'),
        (
            [{'image': 'a_1.jpg', 'caption': 'x'}, {'image': 'a_2.jpg'}],
            r"entry 1: missing key 'caption'",
        ),
        ([{'image': 'a_1.jpg', 'caption': '  '}], r"entry 0: key 'caption' is empty"),
        ([{'image': 'a_1.jpg', 'caption': ['ok', '']}], r"entry 0: key 'caption' must be"),
        ([{'image': 'a_1.jpg', 'caption': 3}], r"entry 0: key 'caption' has type int"),
        ([{'caption': 'x'}], r"entry 0: missing key 'image'"),
        ([{'image': 'cat.jpg', 'caption': 'x'}], r"entry 0: key 'image' = 'cat.jpg' has no"),
        (['just a string'], r'entry 0: expected an object'),
    ],
)
def test_bad_karpathy_file_names_file_index_key(tmp_path, content: object, match: str) -> None:
    path = str(tmp_path / 'bad.json') if content is None else write(tmp_path, 'bad.json', content)
    with pytest.raises(ValueError, match=match) as info:
        BlipCOCOCaption(ann_file=path, **FAST)
    assert 'bad.json' in str(info.value)


def test_bad_nocaps_names_section(tmp_path) -> None:
    gt = {'images': [{'id': 0}], 'annotations': []}
    path = write(tmp_path, 'gt.json', gt)
    with pytest.raises(ValueError, match=r"gt\.json.*entry images\[0\]: missing key 'file_name'"):
        BlipNoCaps(ann_file=path, **FAST)
    path = write(tmp_path, 'list.json', [{'image': 'a.jpg', 'img_id': 'x7'}])
    with pytest.raises(ValueError, match=r"entry 0: key 'img_id' = 'x7' is not an integer"):
        BlipNoCaps(ann_file=path, **FAST)


def shapes_cfg(name: str, root: str) -> Config:
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader in cfg:
            cfg[loader].dataset.data_root = root
            cfg[loader].dataset.serialize_data = False
    return cfg


def test_shapes_pipelines_give_uint8_images_and_captions(shapes_world_root: str) -> None:
    init_default_scope('blip_plugin')
    cfg = shapes_cfg('shapes_caption.py', shapes_world_root)
    test_set = DATASETS.build(cfg.test_dataloader.dataset)
    assert type(test_set).__name__ == 'BlipCOCOCaption' and len(test_set) == 16
    sample = test_set[0]
    image = sample['inputs']
    assert image.dtype == torch.uint8 and image.shape == (3, 32, 32)
    data_sample = sample['data_samples']
    assert len(data_sample.gt_caption) == 5
    assert isinstance(data_sample.image_id, int)
    train = DATASETS.build(cfg.train_dataloader.dataset)[0]
    assert train['inputs'].shape == (3, 32, 32)
    assert isinstance(train['data_samples'].gt_caption, str)
    assert set(cfg.val_evaluator) == {'type', 'ann_file', 'spice'}
    assert cfg.val_evaluator.spice is False  # never a 400 MB download in the toy
    assert cfg.val_evaluator.type == 'COCOCaptionMetric'


def test_coco_recipe_pipeline_runs_on_a_shapes_image(shapes_world_root: str) -> None:
    # The official recipe (RandomResizedCrop 384, flip, RandAugment, BlipCleanCaption) builds
    # and runs; the shapes world stands in for COCO.
    cfg = shapes_cfg('coco_caption.py', shapes_world_root)
    cfg.train_dataloader.dataset.ann_file = 'annotations/caption_train.json'
    with DefaultScope.overwrite_default_scope('blip_plugin'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        for i in range(4):
            sample = dataset[i]
            assert sample['inputs'].shape == (3, 384, 384)
            assert sample['inputs'].dtype == torch.uint8


@pytest.mark.parametrize('name', ['flickr30k_caption.py', 'nocaps.py'])
def test_other_configs_load(name: str) -> None:
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    assert cfg.test_dataloader.dataset.type in ('BlipFlickr30kCaption', 'BlipNoCaps')
    assert cfg.test_evaluator.type == 'COCOCaptionMetric'
    assert cfg.test_evaluator.ann_file.startswith(cfg.test_dataloader.dataset.data_root)
