import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from blip_plugin.datasets.refcoco import BlipRefCOCO, load_refs
from blip_plugin.datasets.shapes_world import make_shapes_world


@pytest.fixture(scope='module')
def world(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('world'))
    make_shapes_world(root, num_train=6, num_val=2, num_test=4, image_size=64)
    return root


def _ds(root: str, split: str, **kw) -> BlipRefCOCO:
    return BlipRefCOCO(
        data_root=root,
        ann_file='annotations/refcoco/instances.json',
        split_file='annotations/refcoco/refs(unc).p',
        split=split,
        lazy_init=False,
        **kw,
    )


def test_reads_shapes_world_splits(world: str) -> None:
    meta = json.loads((Path(world) / 'meta.json').read_text())['counts']['refcoco_refs']
    refs = load_refs(str(Path(world) / 'annotations/refcoco/refs(unc).p'))
    for split in ('train', 'val', 'testA', 'testB'):
        ds = _ds(world, split)
        # one sample per sentence of every ref of the split
        n = sum(len(r['sentences']) for r in refs if r['split'] == split)
        assert len(ds) == n and meta[split] == len({d['ref_id'] for d in ds})
    info = _ds(world, 'train').get_data_info(0)
    ref = refs[info['ref_id']]
    coco = json.loads((Path(world) / 'annotations/refcoco/instances.json').read_text())
    ann = next(a for a in coco['annotations'] if a['id'] == ref['ann_id'])
    x, y, w, h = ann['bbox']
    np.testing.assert_allclose(info['gt_bboxes'], [[x, y, x + w, y + h]], rtol=1e-6)
    assert info['gt_bboxes'].shape == (1, 4) and info['gt_bboxes'].dtype == np.float32
    assert info['text'] == ref['sentences'][0]['sent']
    assert Path(info['img_path']).is_file()


def _copy_world(world: str, tmp_path: Path, refs=None, coco=None) -> str:
    d = tmp_path / 'annotations/refcoco'
    d.mkdir(parents=True)
    src = Path(world) / 'annotations/refcoco'
    (d / 'instances.json').write_text(
        json.dumps(coco) if coco is not None else (src / 'instances.json').read_text()
    )
    data = pickle.dumps(refs) if refs is not None else (src / 'refs(unc).p').read_bytes()
    (d / 'refs(unc).p').write_bytes(data)
    return str(tmp_path)


def test_box_outside_image_is_named(world: str, tmp_path: Path) -> None:
    coco = json.loads((Path(world) / 'annotations/refcoco/instances.json').read_text())
    refs = load_refs(str(Path(world) / 'annotations/refcoco/refs(unc).p'))
    ref = next(r for r in refs if r['split'] == 'val')
    ann = next(a for a in coco['annotations'] if a['id'] == ref['ann_id'])
    ann['bbox'] = [50.0, 10.0, 30.0, 5.0]  # x2 = 80 > 64
    root = _copy_world(world, tmp_path, coco=coco)
    with pytest.raises(ValueError, match=rf'refs\(unc\)\.p ref_id {ref["ref_id"]}.*outside'):
        _ds(root, 'val')


def test_missing_keys_are_named(world: str, tmp_path: Path) -> None:
    refs = [dict(ref_id=7, split='train', sentences=[dict(sent='a')])]
    root = _copy_world(world, tmp_path, refs=refs)
    with pytest.raises(ValueError, match=r"ref_id 7: missing keys \['ann_id'\]"):
        _ds(root, 'train')


def test_unknown_ann_and_split(world: str, tmp_path: Path) -> None:
    refs = [dict(ref_id=3, split='train', ann_id=10**6, sentences=[dict(sent='a')])]
    root = _copy_world(world, tmp_path, refs=refs)
    with pytest.raises(ValueError, match='ref_id 3: ann_id 1000000 is not in'):
        _ds(root, 'train')
    with pytest.raises(ValueError, match='split must be one of'):
        _ds(root, 'training')


class _Evil:
    def __reduce__(self):
        return (print, ('pwned',))


def test_refs_pickle_cannot_run_code(world: str, tmp_path: Path) -> None:
    root = _copy_world(world, tmp_path, refs=[_Evil()])
    with pytest.raises(pickle.UnpicklingError, match=r'names builtins\.print'):
        _ds(root, 'train')


def _build_from_config(world: str, split: str, pipeline_key: str):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from blip_plugin.registry import DATASETS as BLIP_DATASETS

    cfg = Config.fromfile(str(Path(__file__).parents[2] / 'configs/_base_/datasets/refcoco.py'))
    ds_cfg = dict(cfg.refcoco, split=split, pipeline=cfg[pipeline_key], lazy_init=False)
    ds_cfg.update(
        data_root=world,
        data_prefix=dict(img_path=''),
        ann_file='annotations/refcoco/instances.json',
        split_file='annotations/refcoco/refs(unc).p',
    )
    with DefaultScope.overwrite_default_scope('blip_plugin'):
        return BLIP_DATASETS.build(ds_cfg)


def test_refcoco_config_pipelines_move_boxes_with_the_image(world: str) -> None:
    """The RefCOCO recipe's transforms (mmcv RandomChoiceResize, mmpretrain RandomTranslatePad,
    ColorJitter) resolve in the plugin's scope, and the box follows the image."""
    train = _build_from_config(world, 'train', 'train_pipeline')
    info = train.get_data_info(0)
    w0, h0 = info['gt_bboxes'][0, 2:] - info['gt_bboxes'][0, :2]
    scales = {384, 360, 344, 312, 300, 286, 270}
    for _ in range(3):
        out = train[0]
        sample = out['data_samples']
        assert tuple(out['inputs'].shape) == (3, 384, 384)
        box = np.asarray(sample.gt_bboxes, dtype=np.float64).reshape(4)
        s = (box[2] - box[0]) / w0 * 64  # the side the 64 px image was resized to
        assert round(s) in scales and abs((box[3] - box[1]) / h0 * 64 - s) < 1e-3
        assert (box >= 0).all() and (box <= 384).all()
        assert sample.text == info['text']
    test = _build_from_config(world, 'val', 'test_pipeline')
    out = test[0]
    box = np.asarray(out['data_samples'].gt_bboxes).reshape(4)
    np.testing.assert_allclose(box, test.get_data_info(0)['gt_bboxes'][0] * 6, rtol=1e-5)
    assert tuple(out['data_samples'].scale_factor) == (6.0, 6.0)
