"""Position-embedding resizing, shared by model building and checkpoint loading."""

import math

import torch
import torch.nn.functional as F


def resize_pos_embed(
    pos_embed: torch.Tensor, num_patches: int, num_extra_tokens: int = 1
) -> torch.Tensor:
    """Bicubically resize a ViT position embedding to a new square patch grid.

    Follows the official BLIP ``interpolate_pos_embed`` (models/vit.py): extra tokens (the class
    token) are kept, the patch grid is resized with ``align_corners=False``.

    Args:
        pos_embed: (1, E + H*W, D) position embedding, E = ``num_extra_tokens``.
        num_patches: the target number of patches (a square number).
        num_extra_tokens: leading tokens that are not on the grid. Defaults to 1.

    Returns:
        (1, E + num_patches, D); the input itself when the grid already matches.
    """
    old_patches = pos_embed.shape[1] - num_extra_tokens
    if old_patches == num_patches:
        return pos_embed
    old_size, new_size = math.isqrt(old_patches), math.isqrt(num_patches)
    if old_size * old_size != old_patches or new_size * new_size != num_patches:
        raise ValueError(
            f'position embedding grids must be square: got {old_patches} -> {num_patches} patches'
        )
    dim = pos_embed.shape[-1]
    extra, grid = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    grid = grid.reshape(1, old_size, old_size, dim).permute(0, 3, 1, 2)  # (1, D, h, w)
    grid = F.interpolate(
        grid.float(), size=(new_size, new_size), mode='bicubic', align_corners=False
    ).to(pos_embed.dtype)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_size * new_size, dim)  # (1, H*W, D)
    return torch.cat([extra, grid], dim=1)
