"""The BLIP image encoder: a plain ViT (Dosovitskiy et al.) as in the official models/vit.py.

Parameter names follow the official / timm layout (``patch_embed.proj``, ``blocks.N.attn.qkv``,
``norm``), so official checkpoints map onto it key for key.
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ...registry import MODELS
from ..linear import Linear
from .pos_embed import resize_pos_embed

__all__ = ['BlipViT', 'VIT_ARCHS']

# arch -> (embed_dim, depth, num_heads, default drop_path_rate); official create_vit().
VIT_ARCHS = {
    'base': dict(embed_dim=768, depth=12, num_heads=12, drop_path_rate=0.0),
    'large': dict(embed_dim=1024, depth=24, num_heads=16, drop_path_rate=0.1),
}


class DropPath(nn.Module):
    """Stochastic depth per sample."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, attn_drop: float = 0.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = Linear(dim, dim * 3)
        self.proj = Linear(dim, dim)
        self.attn_drop = attn_drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, nh, N, hs)
        drop = self.attn_drop if self.training else 0.0
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)  # (B, nh, N, hs)
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = Linear(dim, hidden)
        self.fc2 = Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x, gelu=True))


class Block(nn.Module):
    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        eps: float,
        attn_drop: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, attn_drop)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


@MODELS.register_module()
class BlipViT(nn.Module):
    """Vision Transformer image encoder of BLIP.

    Args:
        arch: 'base' (ViT-B/16) or 'large' (ViT-L/16), or a dict with ``embed_dim``,
            ``depth``, ``num_heads``. Defaults to 'base'.
        img_size: input resolution; the position embedding is sized for it. Defaults to 384.
        patch_size: patch side in pixels. Defaults to 16.
        mlp_ratio: FFN width over embed width. Defaults to 4.0.
        layer_norm_eps: LayerNorm epsilon; the official model uses 1e-6. Defaults to 1e-6.
        drop_path_rate: stochastic depth of the last block (linear rule); None takes the
            arch's official default. Defaults to None.
        attn_drop_rate: attention dropout. Defaults to 0.0.
        grad_ckpt: recompute the last ``ckpt_layer`` blocks (all when 0) in backward to
            save memory. Defaults to False.
        ckpt_layer: see ``grad_ckpt``. Defaults to 0.
    """

    def __init__(
        self,
        arch: 'str | dict' = 'base',
        img_size: int = 384,
        patch_size: int = 16,
        mlp_ratio: float = 4.0,
        layer_norm_eps: float = 1e-6,
        drop_path_rate: Optional[float] = None,
        attn_drop_rate: float = 0.0,
        grad_ckpt: bool = False,
        ckpt_layer: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(arch, str):
            if arch not in VIT_ARCHS:
                raise ValueError(f'unknown ViT arch {arch!r}; choose from {sorted(VIT_ARCHS)}')
            arch = VIT_ARCHS[arch]
        dim, depth, heads = arch['embed_dim'], arch['depth'], arch['num_heads']
        if drop_path_rate is None:
            drop_path_rate = arch.get('drop_path_rate', 0.0)
        self.embed_dim, self.patch_size, self.img_size = dim, patch_size, img_size
        self.grad_ckpt, self.ckpt_layer = grad_ckpt, ckpt_layer
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch_size, patch_size)
        num_patches = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, dim))
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio, layer_norm_eps, attn_drop_rate, dpr[i])
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.init_weights()

    def init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def set_grad_checkpointing(self, enable: bool = True, ckpt_layer: int = 0) -> None:
        self.grad_ckpt, self.ckpt_layer = enable, ckpt_layer

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        # Weights trained at another resolution: resize their position grid on load.
        key = prefix + 'pos_embed'
        if key in state_dict and state_dict[key].shape != self.pos_embed.shape:
            state_dict[key] = resize_pos_embed(state_dict[key], self.pos_embed.shape[1] - 1)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode images.

        Args:
            images: (B, 3, H, W) normalised pixels; H and W multiples of the patch size.

        Returns:
            image_embeds: (B, 1 + H*W/P^2, D), class token first, after the final norm.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f'images must be (B, 3, H, W); got {tuple(images.shape)}')
        H, W = images.shape[-2:]
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f'image size {H}x{W} is not a multiple of the patch size {self.patch_size}'
            )
        x = self.patch_embed.proj(images).flatten(2).transpose(1, 2)  # (B, N, D)
        pos = self.pos_embed
        if x.shape[1] + 1 != pos.shape[1]:
            if H != W:
                raise ValueError(
                    f'the position embedding of a {self.img_size}px model only '
                    f'resizes to square inputs; got {H}x{W}'
                )
            pos = resize_pos_embed(pos, x.shape[1])
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + pos  # (B, 1+N, D)
        first_ckpt = len(self.blocks) - self.ckpt_layer if self.ckpt_layer else 0
        for i, block in enumerate(self.blocks):
            if self.grad_ckpt and self.training and i >= first_ckpt:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.norm(x)
