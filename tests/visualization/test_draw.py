from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blip_plugin.visualization.draw import draw_box_and_text


def test_draw_writes_valid_png(tmp_path: Path) -> None:
    image = np.full((64, 48, 3), 255, dtype=np.uint8)
    out = tmp_path / 'sub' / 'vis.png'
    draw_box_and_text(image, out, box=(4, 30, 20, 60), text='a red square')
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with Image.open(out) as img:
        img.verify()
    with Image.open(out) as img:
        drawn = np.asarray(img.convert('RGB'))
    assert drawn.shape == (64, 48, 3)
    assert tuple(drawn[45, 4]) == (255, 0, 0)  # left edge of the box


def test_draw_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        draw_box_and_text(tmp_path / 'nope.jpg', tmp_path / 'o.png', text='x')
