"""Shapes-world scenes: sampling 1-3 coloured shapes and drawing them with PIL.

A scene is a list of :class:`Shape` sorted by position (left, top, centre, bottom, right), so
that every text written about it names the shapes in the same, learnable order.
"""

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    'COLOURS',
    'KINDS',
    'SIZES',
    'POSITIONS',
    'Shape',
    'sample_scene',
    'draw_scene',
]

# Six colours far apart in RGB, none close to the light backgrounds.
COLOURS = {
    'red': (220, 40, 40),
    'green': (40, 170, 60),
    'blue': (40, 80, 220),
    'yellow': (230, 200, 30),
    'purple': (140, 60, 180),
    'orange': (240, 130, 20),
}
KINDS = ('circle', 'square', 'triangle')
# Half-extent of a shape as a fraction of the image side.
SIZES = {'small': 0.08, 'large': 0.14}
# Sorted order of positions; the anchor is the shape centre as a fraction of the side (x, y).
POSITIONS = {
    'left': (0.22, 0.5),
    'top': (0.5, 0.22),
    'centre': (0.5, 0.5),
    'bottom': (0.5, 0.78),
    'right': (0.78, 0.5),
}
BACKGROUNDS = ((235, 235, 235), (250, 248, 240), (225, 232, 240))
JITTER = 0.03  # fraction of the side a centre may move from its anchor
TEXTURE_AMPLITUDE = 10  # grey levels of the light noise on textured backgrounds


@dataclass(frozen=True)
class Shape:
    """One shape of a scene; ``box`` is its pixel box ``(x, y, w, h)`` in the image."""

    kind: str
    colour: str
    size: str
    position: str
    box: Tuple[float, float, float, float]


def _vertices(kind: str, cx: float, cy: float, r: float) -> List[Tuple[float, float]]:
    if kind == 'triangle':  # pointing up, inscribed in the circle of radius r
        return [(cx, cy - r), (cx - r, cy + 0.8 * r), (cx + r, cy + 0.8 * r)]
    half = r if kind == 'circle' else 0.85 * r
    return [(cx - half, cy - half), (cx + half, cy + half)]


def _box(points: List[Tuple[float, float]], side: int) -> Tuple[float, float, float, float]:
    xs = [min(max(p[0], 0.0), side) for p in points]
    ys = [min(max(p[1], 0.0), side) for p in points]
    x0, y0 = round(min(xs), 2), round(min(ys), 2)
    return (x0, y0, round(max(xs) - x0, 2), round(max(ys) - y0, 2))


def sample_scene(rng: np.random.Generator, image_size: int) -> Tuple[List[Shape], dict]:
    """Sample a scene of 1-3 shapes at distinct positions.

    Returns:
        The shapes sorted by position, and a drawing spec (background, texture seed, the
        geometry of each shape) for :func:`draw_scene`.
    """
    num = int(rng.integers(1, 4))
    names = list(POSITIONS)
    chosen = sorted(rng.choice(len(names), size=num, replace=False).tolist())
    shapes, geometry = [], []
    for idx in chosen:  # chosen is sorted, so the shapes follow the position order
        position = names[idx]
        kind = KINDS[int(rng.integers(len(KINDS)))]
        colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
        size = list(SIZES)[int(rng.integers(len(SIZES)))]
        ax, ay = POSITIONS[position]
        jx, jy = rng.uniform(-JITTER, JITTER, size=2)
        cx, cy = (ax + jx) * image_size, (ay + jy) * image_size
        r = SIZES[size] * image_size
        points = _vertices(kind, cx, cy, r)
        shapes.append(Shape(kind, colour, size, position, _box(points, image_size)))
        geometry.append(points)
    spec = dict(
        background=BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))],
        textured=bool(rng.random() < 0.5),
        texture_seed=int(rng.integers(2**31)),
        geometry=geometry,
    )
    return shapes, spec


def draw_scene(shapes: List[Shape], spec: dict, image_size: int) -> Image.Image:
    """Draw a sampled scene as an RGB image."""
    canvas = np.empty((image_size, image_size, 3), dtype=np.int16)
    canvas[:] = spec['background']
    if spec['textured']:
        noise = np.random.default_rng(spec['texture_seed']).integers(
            -TEXTURE_AMPLITUDE, TEXTURE_AMPLITUDE + 1, size=canvas.shape
        )
        canvas += noise.astype(np.int16)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), mode='RGB')
    draw = ImageDraw.Draw(image)
    for shape, points in zip(shapes, spec['geometry']):
        fill = COLOURS[shape.colour]
        if shape.kind == 'circle':
            draw.ellipse([points[0], points[1]], fill=fill)
        elif shape.kind == 'square':
            draw.rectangle([points[0], points[1]], fill=fill)
        else:
            draw.polygon(points, fill=fill)
    return image
