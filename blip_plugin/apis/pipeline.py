"""Turn user images (paths, PIL images, arrays) into a model's normalised input batch.

Images are loaded here, whatever their kind, into the dict that ``LoadImageFromFile`` would
give (BGR uint8 ``img``, ``img_shape``, ``ori_shape``); the rest of the model config's test
pipeline (resize, pack) then runs as in testing, so inference sees exactly what evaluation
sees. A config without a test pipeline gets a square resize to the ViT's ``img_size``.
"""

import os
from collections.abc import Iterator, Sequence
from typing import Any, Callable, Optional

import mmcv
import mmpretrain.datasets  # noqa: F401  registers LoadImageFromFile, Resize, PackInputs
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from PIL import Image

from ..registry import SCOPE, TRANSFORMS

__all__ = [
    'load_image',
    'default_inference_pipeline',
    'inference_pipeline_cfg',
    'build_inference_pipeline',
    'iter_batches',
]


def _array_image(img: 'np.ndarray | torch.Tensor', where: str) -> np.ndarray:
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().numpy()
    if img.ndim == 2:  # grey: three equal channels, as imread gives for a grey file
        img = np.repeat(img[..., None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        hint = (
            ' (channels first? pass img.permute(1, 2, 0))'
            if img.ndim == 3 and img.shape[0] in (1, 3)
            else ''
        )
        if img.ndim == 4:
            hint = ' (a batch? pass a list of images)'
        raise ValueError(
            f'{where}: an array image must be (H, W, 3) BGR or (H, W) grey, '
            f'got shape {tuple(img.shape)}{hint}'
        )
    if img.dtype != np.uint8:
        raise ValueError(f'{where}: an array image must be uint8 (0-255), got {img.dtype}')
    return np.ascontiguousarray(img)


def load_image(image: Any, index: int = 0) -> dict:
    """Load one image into a pipeline results dict.

    Args:
        image: a file path, a PIL image (any mode; converted to RGB, then BGR), or an
            (H, W, 3) uint8 numpy array / tensor in BGR order (OpenCV's and mmcv's
            convention, as ``mmcv.imread`` returns) or (H, W) grey.
        index: the image's position in the user's list, for error messages.

    Returns:
        ``dict(img=BGR uint8 array, img_shape, ori_shape[, img_path])``.

    Raises:
        FileNotFoundError: a path that is not a file (the path named).
        ValueError: an undecodable file or an array of the wrong shape or dtype.
        TypeError: any other kind of input.
    """
    where = f'image {index}'
    extra: dict = {}
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{where}: image file not found: {path}')
        img = mmcv.imread(path, flag='color', channel_order='bgr')
        if img is None:
            raise ValueError(f'{where}: cannot decode an image from {path}')
        extra['img_path'] = path
    elif isinstance(image, Image.Image):
        img = np.ascontiguousarray(np.asarray(image.convert('RGB'))[..., ::-1])
    elif isinstance(image, (np.ndarray, torch.Tensor)):
        img = _array_image(image, where)
    else:
        raise TypeError(
            f'{where}: expected a path, a PIL image or an array, got {type(image).__name__}'
        )
    return dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2], **extra)


def default_inference_pipeline(img_size: int) -> list:
    """The official test transform (BICUBIC square resize on PIL, data/__init__.py), packed."""
    return [
        dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
        dict(type='PackInputs'),
    ]


def inference_pipeline_cfg(cfg: Optional[Config], model: torch.nn.Module) -> list:
    """The test pipeline of ``cfg`` without its image loader, or the default one.

    Looks at ``test_dataloader.dataset.pipeline``, then a top-level ``test_pipeline``.
    """
    pipeline = None
    if cfg is not None:
        dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
        pipeline = dataset.get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        vit = getattr(model, 'vision_encoder', None)
        img_size = getattr(vit, 'img_size', None)
        if img_size is None:
            raise ValueError(
                f'{type(model).__name__} has no config test pipeline and no '
                'vision_encoder.img_size to resize images to'
            )
        return default_inference_pipeline(img_size)
    # loading is done by load_image for every kind of input
    return [t for t in pipeline if not str(t.get('type', '')).split('.')[-1].startswith('Load')]


def build_inference_pipeline(cfg: Optional[Config], model: torch.nn.Module) -> Callable:
    """Compose the transforms of :func:`inference_pipeline_cfg`, built in the plugin's scope."""
    with DefaultScope.overwrite_default_scope(SCOPE):
        transforms = [TRANSFORMS.build(t) for t in inference_pipeline_cfg(cfg, model)]
    return Compose(transforms)


def iter_batches(images: Sequence, pipeline: Callable, batch_size: int) -> Iterator[dict]:
    """Load, transform and collate ``images`` in batches of ``batch_size``: each batch is
    ``dict(inputs=[CHW uint8 tensors], data_samples=[DataSample])``, ready for the model's
    data preprocessor."""
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        yield pseudo_collate([pipeline(load_image(img, start + i)) for i, img in enumerate(chunk)])
