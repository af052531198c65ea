"""BlipLoadImage: a missing or corrupt training image names the file and the annotation, and
a config option chooses between failing fast and skipping (counted in the log)."""

import json
import os
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from blip_plugin.datasets.shapes_world import make_shapes_world
from blip_plugin.datasets.transforms import BlipLoadImage, UnreadableImageError
from blip_plugin.registry import DATASETS, TRANSFORMS


@pytest.fixture(scope='module')
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A 4-image world with image 0 deleted and image 1 overwritten with garbage."""
    root = str(tmp_path_factory.mktemp('world'))
    make_shapes_world(root, num_train=4, num_val=2, num_test=2, image_size=32)
    anns = json.load(open(osp.join(root, 'annotations/caption_train.json')))
    images = sorted({a['image'] for a in anns})
    os.remove(osp.join(root, images[0]))
    Path(root, images[1]).write_bytes(b'not a png at all')
    return root, images


def dataset(root: str, on_error: str = 'raise', test_mode: bool = False):  # noqa: ANN201
    with DefaultScope.overwrite_default_scope('blip_plugin'):
        return DATASETS.build(
            dict(
                type='BlipCOCOCaption',
                data_root=root,
                ann_file='annotations/caption_train.json',
                data_prefix=dict(img_path=''),
                pipeline=[dict(type='BlipLoadImage', on_error=on_error)],
                test_mode=test_mode,
            )
        )


def index_of(ds, image: str) -> int:  # noqa: ANN001
    return next(i for i in range(len(ds)) if ds.get_data_info(i)['img_path'].endswith(image))


def test_missing_image_names_file_and_annotation(world: tuple) -> None:
    root, images = world
    ds = dataset(root)
    i = index_of(ds, images[0])
    caption = ds.get_data_info(i)['gt_caption']
    with pytest.raises(UnreadableImageError) as err:
        ds[i]
    msg = str(err.value)
    assert osp.join(root, images[0]) in msg and 'file not found' in msg
    assert caption in msg and f'sample {i}' in msg
    assert "on_error='skip'" in msg


def test_corrupt_image_names_file_and_annotation(world: tuple) -> None:
    root, images = world
    ds = dataset(root)
    with pytest.raises(UnreadableImageError, match=f'{images[1]}.*annotation sample'):
        ds[index_of(ds, images[1])]


def test_skip_draws_another_sample_and_logs_a_count(world: tuple) -> None:
    root, images = world
    logger = MMLogger.get_instance('blip-load-image-test', log_file=None)
    messages: list = []
    handler_emit = logger.handlers[0].emit
    logger.handlers[0].emit = lambda record: messages.append(record.getMessage())
    try:
        ds = dataset(root, on_error='skip')
        out = ds[index_of(ds, images[0])]
        out2 = ds[index_of(ds, images[1])]
    finally:
        logger.handlers[0].emit = handler_emit
    for o in (out, out2):  # MMEngine's BaseDataset refetched a readable sample
        assert isinstance(o['img'], np.ndarray) and o['img'].shape == (32, 32, 3)
        assert not o['img_path'].endswith((images[0], images[1]))
    loader = ds.pipeline.transforms[0]
    # each of the two reads skipped, and so did every refetch that drew another bad image
    skips = [m for m in messages if 'skipped so far' in m]
    assert loader.skipped == len(skips) >= 2
    for n, m in enumerate(skips, 1):
        assert f'({n} unreadable images skipped so far in this process)' in m
        assert images[0] in m or images[1] in m
    assert images[0] in skips[0]


def test_test_mode_never_skips_silently(world: tuple) -> None:
    root, images = world
    ds = dataset(root, on_error='skip', test_mode=True)
    with pytest.raises(Exception, match='should not get `None`'):
        ds[index_of(ds, images[0])]


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="'raise' or 'skip', got 'ignore'"):
        BlipLoadImage(on_error='ignore')
    with pytest.raises(ValueError, match="on_error='skip' instead of ignore_empty"):
        BlipLoadImage(ignore_empty=True)
    assert TRANSFORMS.get('BlipLoadImage') is BlipLoadImage
