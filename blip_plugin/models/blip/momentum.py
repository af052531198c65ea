"""Momentum encoders (exponential moving averages of the online encoders) and the ramp-up
of the momentum-distillation weight (paper section 3.2; official ``copy_params``,
``_momentum_update`` and the ``alpha`` schedules of pretrain.py / train_retrieval.py)."""

import copy
import logging
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from torch import nn

from ...registry import MODELS
from ..heads.itc import all_gather_with_grad, concat_all_gather, get_dist_info
from ..heads.itm import itm_logits, itm_loss, negative_weights, sample_negatives
from ..med import MEDConfig, MEDTransformer, load_tokenizer

__all__ = [
    'ALIGNMENT_PARTS',
    'momentum_copy',
    'check_pairs',
    'momentum_update',
    'ramped_alpha',
    'MomentumAlignBase',
    'bert_init',
]

# Parts of pre-training / retrieval checkpoints that only ITC and ITM use: task models without
# them (caption, VQA, NLVR2) skip them on load (``unused_weight_prefixes``).
ALIGNMENT_PARTS = (
    'text_encoder_m',
    'vision_encoder_m',
    'vision_proj',
    'text_proj',
    'vision_proj_m',
    'text_proj_m',
    'itm_head',
    'temp',
    'image_queue',
    'text_queue',
    'idx_queue',
    'ptr_queue',
)


def momentum_copy(module: nn.Module) -> nn.Module:
    """A frozen deep copy of ``module`` (its momentum twin)."""
    twin = copy.deepcopy(module)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


def check_pairs(pairs: list[tuple[nn.Module, nn.Module]]) -> None:
    """Raise if an online module and its momentum twin do not have the same parameters."""
    for online, twin in pairs:
        a = [(n, p.shape) for n, p in online.named_parameters()]
        b = [(n, p.shape) for n, p in twin.named_parameters()]
        if a != b:
            raise ValueError(
                f'{type(online).__name__} and its momentum copy differ in their parameters'
            )


@torch.no_grad()
def momentum_update(pairs: list[tuple[nn.Module, nn.Module]], momentum: float) -> None:
    """param_m = param_m * m + param * (1 - m), for every (online, momentum) pair."""
    online = [p.detach() for a, _ in pairs for p in a.parameters()]
    twins = [p for _, b in pairs for p in b.parameters()]
    torch._foreach_mul_(twins, momentum)
    torch._foreach_add_(twins, online, alpha=1.0 - momentum)


def ramped_alpha(alpha: float, warmup_epochs: float, step: Optional[int] = None) -> float:
    """The distillation weight at the current training iteration.

    alpha * min(1, iteration / (warmup_epochs * iterations per epoch)): the official
    retrieval recipe ramps over the first epoch, official pretrain.py over the first two.
    The iteration and the epoch length come from MMEngine's message hub (``iter``,
    ``max_iters``, ``max_epochs``, set by ``RuntimeInfoHook``); outside a runner, or with
    ``warmup_epochs`` 0, the full ``alpha`` is used.
    """
    if warmup_epochs <= 0:
        return alpha
    hub = MessageHub.get_current_instance()
    it = hub.get_info('iter') if step is None else step
    max_iters, max_epochs = hub.get_info('max_iters'), hub.get_info('max_epochs')
    if it is None or not max_iters or not max_epochs:
        return alpha
    iters_per_epoch = max_iters / max_epochs
    return alpha * min(1.0, it / (warmup_epochs * iters_per_epoch))


class MomentumAlignBase(BaseModel):
    """What pre-training and retrieval share: the ViT, the MED text encoder (unimodal for
    ITC, image-grounded with ``[ENC]`` for ITM), projections, the ITM head, momentum twins,
    the learnable temperature and the feature queues. Attribute names are the official
    checkpoint's (after :mod:`blip_plugin.models.convert`).

    Args:
        vision_encoder: config of the ViT (``BlipViT``).
        med_config: :class:`MEDConfig` fields of the text encoder (and decoder);
            ``encoder_width`` defaults to the ViT's width.
        tokenizer: kwargs of :func:`load_tokenizer`.
        embed_dim: width of the ITC features. Defaults to 256.
        queue_size: columns of the feature queues. Defaults to 57600.
        momentum: of the momentum encoders. Defaults to 0.995.
        alpha: weight of momentum distillation. Defaults to 0.4.
        alpha_warmup_epochs: ``alpha`` ramps up linearly over this many epochs (see
            :func:`ramped_alpha`). Defaults to 1.0.
        max_txt_len: texts are padded / cut to this many tokens. Defaults to 35.
        negative_all_rank: draw ITM hard negatives from the global batch (all ranks) instead
            of the local one. Defaults to True.
        itm_seed: seed of the generator that draws hard negatives; None draws one from
            torch's global generator on rank 0 at the first step. Defaults to None.
        data_preprocessor: MMEngine data preprocessor config.
        init_cfg: MMEngine init config.
    """

    def __init__(
        self,
        vision_encoder: dict,
        med_config: dict,
        tokenizer: dict,
        embed_dim: int = 256,
        queue_size: int = 57600,
        momentum: float = 0.995,
        alpha: float = 0.4,
        alpha_warmup_epochs: float = 1.0,
        max_txt_len: int = 35,
        negative_all_rank: bool = True,
        itm_seed: Optional[int] = None,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.vision_encoder = MODELS.build(vision_encoder)
        vision_width = self.vision_encoder.embed_dim
        self.tokenizer = load_tokenizer(**tokenizer)
        self.med_config = MEDConfig.for_models(med_config, vision_width, len(self.tokenizer))
        self.text_encoder = MEDTransformer(self.med_config)
        bert_init(self.text_encoder)
        text_width = self.med_config.hidden_size
        self.vision_proj = nn.Linear(vision_width, embed_dim)
        self.text_proj = nn.Linear(text_width, embed_dim)
        self.itm_head = nn.Linear(text_width, 2)
        self.temp = nn.Parameter(torch.tensor(0.07))

        self.vision_encoder_m = momentum_copy(self.vision_encoder)
        self.vision_proj_m = momentum_copy(self.vision_proj)
        self.text_encoder_m = momentum_copy(self.text_encoder)
        self.text_proj_m = momentum_copy(self.text_proj)

        self.register_buffer('image_queue', F.normalize(torch.randn(embed_dim, queue_size), dim=0))
        self.register_buffer('text_queue', F.normalize(torch.randn(embed_dim, queue_size), dim=0))
        self.register_buffer('ptr_queue', torch.zeros(1, dtype=torch.long))
        self.queue_size, self.momentum = queue_size, momentum
        self.alpha, self.alpha_warmup_epochs = alpha, alpha_warmup_epochs
        self.max_txt_len = max_txt_len
        self.negative_all_rank = negative_all_rank
        self.itm_seed = itm_seed
        self._itm_generator: Optional[torch.Generator] = None

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        self._fit_queues(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _fit_queues(self, state_dict: dict, prefix: str) -> None:
        """Queues of another length than ``queue_size`` (a checkpoint trained with another
        queue) are cut to it, or keep this model's initial columns past the checkpoint's;
        the pointer restarts at 0. The configured size wins: evaluation never reads the
        queues, and training refills them within ``queue_size / batch`` steps."""
        found = None
        for name in ('image_queue', 'text_queue', 'idx_queue'):
            own, got = getattr(self, name, None), state_dict.get(prefix + name)
            if own is None or got is None or got.shape[-1] == own.shape[-1]:
                continue
            found, k = got.shape[-1], min(got.shape[-1], own.shape[-1])
            fitted = own.detach().clone()  # (E or 1, queue_size)
            fitted[..., :k] = got[..., :k].to(fitted)
            state_dict[prefix + name] = fitted
        if found is not None:
            state_dict[prefix + 'ptr_queue'] = torch.zeros_like(self.ptr_queue)
            print_log(
                f"the checkpoint's feature queues hold {found} columns, this model's "
                f'queue_size is {self.queue_size}: kept the first '
                f'{min(found, self.queue_size)}, queue pointer reset to 0',
                logger='current',
                level=logging.WARNING,
            )

    @property
    def momentum_pairs(self) -> list:
        return [
            (self.vision_encoder, self.vision_encoder_m),
            (self.vision_proj, self.vision_proj_m),
            (self.text_encoder, self.text_encoder_m),
            (self.text_proj, self.text_proj_m),
        ]

    @property
    def device(self) -> torch.device:
        return self.temp.device

    @torch.no_grad()
    def copy_params(self) -> None:
        """Reset every momentum twin to its online module (official ``copy_params``)."""
        check_pairs(self.momentum_pairs)
        for online, twin in self.momentum_pairs:
            for p, p_m in zip(online.parameters(), twin.parameters()):
                p_m.copy_(p)

    # -- stages -------------------------------------------------------------------------------
    def tokenize(self, texts: list) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts -> ([CLS] ids (B, L), mask (B, L)), padded to ``max_txt_len`` (as the
        official model, so that ranks gather equal shapes)."""
        tok = self.tokenizer(
            list(texts),
            padding='max_length',
            truncation=True,
            max_length=self.max_txt_len,
            return_tensors='pt',
        )
        return tok.input_ids.to(self.device), tok.attention_mask.to(self.device)

    def image_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> image embeddings (B, 1+N, D) and ITC features (B, E)."""
        image_embeds = self.vision_encoder(images)
        return image_embeds, F.normalize(self.vision_proj(image_embeds[:, 0]), dim=-1)

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Unimodal text encoder ([CLS]) -> ITC features (B, E)."""
        h = self.text_encoder(input_ids, attention_mask)  # (B, L, H)
        return F.normalize(self.text_proj(h[:, 0]), dim=-1)

    @torch.no_grad()
    def momentum_features(
        self, images: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Update the momentum twins, then their ITC features (B, E) of images and texts."""
        momentum_update(self.momentum_pairs, self.momentum)
        image_m = F.normalize(self.vision_proj_m(self.vision_encoder_m(images)[:, 0]), dim=-1)
        h = self.text_encoder_m(input_ids, attention_mask)
        return image_m, F.normalize(self.text_proj_m(h[:, 0]), dim=-1)

    def encoder_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[CLS] -> [ENC]: the image-grounded text encoder's input."""
        ids = input_ids.clone()
        ids[:, 0] = self.tokenizer.enc_token_id
        return ids

    def itm_generator(self) -> torch.Generator:
        """The CPU generator of hard negatives, seeded identically on every rank."""
        if self._itm_generator is None:
            seed = self.itm_seed
            if seed is None:
                t = torch.randint(0, 2**31 - 1, (1,), device=self.device)
                if get_dist_info()[1] > 1:
                    torch.distributed.broadcast(t, src=0)
                seed = int(t.item())
            self._itm_generator = torch.Generator().manual_seed(seed)
        return self._itm_generator

    def itm_loss(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_embeds: torch.Tensor,
        sim_i2t: torch.Tensor,
        sim_t2i: torch.Tensor,
        positive: torch.Tensor,
        eps: float,
    ) -> torch.Tensor:
        """ITM with one hard negative text per image and one hard negative image per text.

        Args:
            input_ids, attention_mask: (B, L) local [ENC] texts.
            image_embeds: (B, 1+N, D) local image embeddings.
            sim_i2t, sim_t2i: (Bq, Bq) similarities that weight the draw; Bq = B_g (global
                batch, every rank draws the same) or B (local batch).
            positive: (Bq, Bq) bool, candidates never drawn.
            eps: see :func:`negative_weights`.
        """
        rank, world = get_dist_info()
        B = input_ids.shape[0]
        gen = self.itm_generator()
        neg_text = sample_negatives(negative_weights(sim_i2t, positive, eps), gen)  # (Bq,)
        neg_image = sample_negatives(negative_weights(sim_t2i, positive, eps), gen)  # (Bq,)
        if self.negative_all_rank and world > 1:
            neg_text, neg_image = (x[rank * B : (rank + 1) * B] for x in (neg_text, neg_image))
            images_world = all_gather_with_grad(image_embeds)  # (B_g, 1+N, D)
            ids_world = concat_all_gather(input_ids)
            atts_world = concat_all_gather(attention_mask)
        else:
            images_world, ids_world, atts_world = image_embeds, input_ids, attention_mask
        # rows: matched pairs, (text, negative image), (negative text, image)
        ids = torch.cat([input_ids, input_ids, ids_world[neg_text]])  # (3B, L)
        atts = torch.cat([attention_mask, attention_mask, atts_world[neg_text]])
        images = torch.cat([image_embeds, images_world[neg_image], image_embeds])  # (3B, 1+N, D)
        logits = itm_logits(self.text_encoder, self.itm_head, ids, atts, images)  # (3B, 2)
        return itm_loss(logits, B)

    def gather_queries(self, *feats: torch.Tensor) -> list:
        """Detached features of the queries that weight negative draws: global or local."""
        if self.negative_all_rank:
            return [concat_all_gather(f) for f in feats]
        return [f.detach() for f in feats]


def bert_init(module: nn.Module, std: float = 0.02) -> None:
    """BERT init (normal ``std``, zero bias, unit LayerNorm), as :class:`MEDDecoder`'s.
    ``std`` is BERT's ``initializer_range`` (0.02 in the official med_config.json)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=std)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
