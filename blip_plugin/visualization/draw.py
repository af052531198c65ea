"""Draw a predicted box and a text (caption, answer, referring expression) on an image."""

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image, ImageDraw

__all__ = ['draw_box_and_text']


def draw_box_and_text(
    image: Union[str, Path, Image.Image, np.ndarray],
    out_file: Union[str, Path],
    box: Optional[Sequence[float]] = None,
    text: Optional[str] = None,
    color: str = 'red',
    width: int = 2,
) -> Image.Image:
    """Draw ``box`` (x1, y1, x2, y2 in pixels) and ``text`` on ``image`` and save a PNG.

    Args:
        image: a path, a PIL image or an (H, W, 3) uint8 RGB array.
        out_file: where the PNG goes; parent folders are created.
        box: ``(x1, y1, x2, y2)`` in pixels, or None for no box.
        text: drawn at the top-left on a dark band, or None for no text.
        color: box and text colour. Defaults to 'red'.
        width: box line width in pixels. Defaults to 2.

    Returns:
        The drawn RGB image.
    """
    if isinstance(image, (str, Path)):
        if not Path(image).is_file():
            raise FileNotFoundError(f'image file not found: {image}')
        img = Image.open(image).convert('RGB')
    elif isinstance(image, np.ndarray):
        img = Image.fromarray(image.astype(np.uint8)).convert('RGB')
    else:
        img = image.convert('RGB')
    draw = ImageDraw.Draw(img)
    if box is not None:
        x1, y1, x2, y2 = (float(v) for v in box)
        draw.rectangle(
            [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], outline=color, width=width
        )
    if text:
        left, top, right, bottom = draw.textbbox((2, 2), text)
        draw.rectangle([0, 0, right + 2, bottom + 2], fill='black')
        draw.text((2, 2), text, fill=color)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    img.save(out_file, format='PNG')
    return img
