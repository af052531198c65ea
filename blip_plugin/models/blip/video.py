"""Zero-shot video-language models: image models that read videos (paper section 5.6, Tables
10-11; official eval_retrieval_video.py).

"We uniformly sample n frames per video (n = 8 for retrieval and n = 16 for QA), and
concatenate the frame features into a single sequence", ignoring all temporal information.
Each of the B * T frames goes through the ViT alone; the multimodal encoder (ITM, the VQA
question encoder) cross-attends to the T frames' tokens concatenated per video, (B, T*(1+N),
D). For ITC the official code averages the frames' projected ``[CLS]`` features, then
normalises. Nothing is trained: the image checkpoints (COCO retrieval, VQA) load as they are,
since these classes add no parameter.
"""

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from torch import nn

from ...registry import MODELS
from .retrieval import BlipRetrieval
from .vqa import BlipVQA

__all__ = [
    'frame_embeds',
    'built_preprocessor',
    'BlipVideoDataPreprocessor',
    'BlipVideoRetrieval',
    'BlipVideoVQA',
]


def frame_embeds(vision_encoder: nn.Module, videos: torch.Tensor) -> torch.Tensor:
    """Every frame through the ViT alone: (B, T, 3, H, W) -> (B, T, 1+N, D)."""
    B, T = videos.shape[:2]
    embeds = vision_encoder(videos.flatten(0, 1))  # (B*T, 1+N, D)
    return embeds.view(B, T, *embeds.shape[1:])


def built_preprocessor(cfg: Optional[dict]) -> Optional[nn.Module]:
    """A data preprocessor config built in this plugin's registry: MMEngine's ``BaseModel``
    builds dicts in MMEngine's own, which does not know ``BlipVideoDataPreprocessor`` outside
    the ``blip_plugin`` scope."""
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg


def _check_video(videos: torch.Tensor, model: str) -> None:
    if videos.dim() != 5 or videos.shape[2] != 3:
        raise ValueError(
            f'{model} takes videos (B, T, 3, H, W) or images (B, 3, H, W), got '
            f'{tuple(videos.shape)}'
        )


@MODELS.register_module()
class BlipVideoDataPreprocessor(BaseDataPreprocessor):
    """Stack ``(T, 3, H, W)`` uint8 clips (``BlipLoadVideo`` + ``PackInputs(input_key='video')``)
    into a normalised float batch (B, T, 3, H, W).

    Args:
        mean: per-channel mean, in the clips' channel order after ``bgr_to_rgb``.
        std: per-channel std.
        bgr_to_rgb: reverse the channels first (clips from BGR sources); ``BlipLoadVideo``
            gives RGB. Defaults to False.
        non_blocking: as MMEngine's data preprocessors. Defaults to False.
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        bgr_to_rgb: bool = False,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std need 3 values each, got {mean} and {std}')
        self.register_buffer('mean', torch.tensor(mean).view(1, 1, 3, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(1, 1, 3, 1, 1), False)
        self.bgr_to_rgb = bgr_to_rgb

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            shapes = {tuple(v.shape) for v in inputs}
            if len(shapes) != 1 or len(next(iter(shapes))) != 4:
                raise ValueError(
                    f'a video batch needs clips of one shape (T, 3, H, W), got {sorted(shapes)}: '
                    'set the same num_frames and scale in BlipLoadVideo'
                )
            inputs = torch.stack(list(inputs))  # (B, T, 3, H, W)
        _check_video(inputs, type(self).__name__)
        if self.bgr_to_rgb:
            inputs = inputs.flip(2)
        inputs = (inputs.float() - self.mean) / self.std
        return dict(inputs=inputs, data_samples=data.get('data_samples'))


@MODELS.register_module()
class BlipVideoRetrieval(BlipRetrieval):
    """Zero-shot text-video retrieval with an image-text retrieval model: ITC over the
    frame-averaged features ranks, ITM over the concatenated frames re-ranks the top
    ``k_test`` (official eval_retrieval_video.py; k_test 128 for MSR-VTT).

    Args:
        num_frames: frames per video where no config pipeline says (inference on a bare
            model). Defaults to 8 (paper).
        **kwargs: as :class:`BlipRetrieval` (the same weights load).
    """

    def __init__(self, *args, num_frames: int = 8, **kwargs) -> None:
        kwargs['data_preprocessor'] = built_preprocessor(kwargs.get('data_preprocessor'))
        super().__init__(*args, **kwargs)
        self.num_frames = num_frames

    def image_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Videos (B, T, 3, H, W) -> concatenated frame embeddings (B, T*(1+N), D) and ITC
        features (B, E), the mean of the frames' projected ``[CLS]`` normalised; images
        (B, 3, H, W) as :class:`BlipRetrieval`."""
        if images.dim() == 4:
            return super().image_features(images)
        _check_video(images, type(self).__name__)
        frames = frame_embeds(self.vision_encoder, images)  # (B, T, 1+N, D)
        B, T, L, D = frames.shape
        feat = self.vision_proj(frames[:, :, 0]).mean(1)  # (B, E), official: mean, then norm
        return frames.reshape(B, T * L, D), F.normalize(feat, dim=-1)

    def loss(self, inputs: torch.Tensor, data_samples: list, alpha: Optional[float] = None) -> dict:
        if inputs.dim() != 4:
            raise ValueError(
                f'{type(self).__name__} is zero-shot on videos: train it on images '
                f'(B, 3, H, W), got {tuple(inputs.shape)}'
            )
        return super().loss(inputs, data_samples, alpha)


@MODELS.register_module()
class BlipVideoVQA(BlipVQA):
    """Zero-shot video QA with an image VQA model: the question encoder cross-attends to the
    concatenated frames; answers are generated or ranked as :class:`BlipVQA` does.

    Args:
        num_frames: frames per video where no config pipeline says (inference on a bare
            model). Defaults to 16 (paper).
        **kwargs: as :class:`BlipVQA` (the same weights load).
    """

    def __init__(self, *args, num_frames: int = 16, **kwargs) -> None:
        kwargs['data_preprocessor'] = built_preprocessor(kwargs.get('data_preprocessor'))
        super().__init__(*args, **kwargs)
        self.num_frames = num_frames

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Videos (B, T, 3, H, W) -> concatenated frame embeddings (B, T*(1+N), D); images
        (B, 3, H, W) -> (B, 1+N, D)."""
        if images.dim() == 4:
            return super().encode_image(images)
        _check_video(images, type(self).__name__)
        frames = frame_embeds(self.vision_encoder, images)  # (B, T, 1+N, D)
        B, T, L, D = frames.shape
        return frames.reshape(B, T * L, D)
