import json
from pathlib import Path

import pytest

from blip_plugin.datasets.nlvr2 import NLVR2Dataset


def _write(tmp_path: Path, entries: list) -> str:
    path = tmp_path / 'nlvr_dev.json'
    path.write_text(json.dumps(entries))
    return str(path)


def test_nlvr2_dataset_reads_official_json(tmp_path: Path) -> None:
    ann = _write(
        tmp_path,
        [
            dict(
                images=['a.png', 'b.png'], sentence='Both images have a RED circle!', label='True'
            ),
            dict(images=['c.png', 'd.png'], sentence='no squares', label='False'),
        ],
    )
    ds = NLVR2Dataset(ann, data_prefix=dict(img_path='imgs'), lazy_init=False)
    assert len(ds) == 2
    info = ds.get_data_info(0)
    assert info['img_path'] == ['imgs/a.png', 'imgs/b.png']
    assert info['text'] == 'both images have a red circle'
    assert info['gt_label'] == 1 and ds.get_data_info(1)['gt_label'] == 0


def test_nlvr2_dataset_names_bad_label(tmp_path: Path) -> None:
    ann = _write(tmp_path, [dict(images=['a', 'b'], sentence='x', label='maybe')])
    with pytest.raises(ValueError, match='entry 0.*maybe'):
        NLVR2Dataset(ann)
