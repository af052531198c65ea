"""BLIP pre-training: ITC + ITM + LM over one MED (paper section 3.2; official
models/blip_pretrain.py).

Differences from the official code, all so that a run on W ranks computes what one process
computes on the same global batch (tested in tests/models/test_pretrain_distributed.py):
the contrastive targets and the hard negatives use the momentum features and the samples
of every rank, negatives are drawn with one seeded generator that every rank advances
identically, and the LM loss is a mean over the global batch's tokens.
"""

from typing import Optional

import torch
from mmpretrain.structures import DataSample

from ...registry import MODELS
from ..heads.itc import (
    all_reduce_sum,
    concat_all_gather,
    enqueue,
    get_dist_info,
    itc_loss,
    one_hot_targets,
)
from ..med import MEDDecoder, MEDTransformer
from .momentum import MomentumAlignBase, ramped_alpha

__all__ = ['BlipPretrain', 'share_encoder_decoder', 'SHARE_MODES']

# paper Table 3: sharing all but self-attention (SA) gives the best results
SHARE_MODES = ('all_but_self_attn', 'all', 'none')


def share_encoder_decoder(encoder: MEDTransformer, decoder: MEDDecoder, mode: str) -> None:
    """Make the decoder use the encoder's modules (paper section 3.3).

    ``'all_but_self_attn'``: embeddings, cross-attention and FFN (with their LayerNorms)
    shared, self-attention separate: the official ``tie_encoder_decoder_weights(...,
    '/attention')``. ``'all'``: one transformer, run bidirectionally or causally.
    ``'none'``: separate weights. The LM head stays tied to the (shared) word embeddings.
    """
    if mode not in SHARE_MODES:
        raise ValueError(f'share must be one of {SHARE_MODES}, got {mode!r}')
    if mode == 'all':
        decoder.transformer = encoder
    elif mode == 'all_but_self_attn':
        decoder.transformer.embeddings = encoder.embeddings
        for enc, dec in zip(encoder.layers, decoder.transformer.layers):
            for name in ('cross_attn', 'cross_attn_norm', 'ffn', 'ffn_norm'):
                setattr(dec, name, getattr(enc, name))
    decoder.tie_weights()


@MODELS.register_module()
class BlipPretrain(MomentumAlignBase):
    """BLIP pre-training on image-text pairs with ITC, ITM and LM.

    Args:
        vision_encoder: config of the ViT (``BlipViT``).
        med_config: :class:`MEDConfig` fields of the encoder and the decoder.
        tokenizer: kwargs of :func:`load_tokenizer`.
        share: encoder/decoder parameter sharing, one of :data:`SHARE_MODES`. Defaults to
            'all_but_self_attn'.
        label_smoothing: of the LM loss. Defaults to 0.1.
        max_txt_len: Defaults to 30 (official pre-training).
        alpha_warmup_epochs: Defaults to 2.0 (official pretrain.py ramps alpha over the
            first two epochs).
        **kwargs: the rest of :class:`MomentumAlignBase` (``embed_dim``, ``queue_size``,
            ``momentum``, ``alpha``, ``negative_all_rank``, ``itm_seed``,
            ``data_preprocessor``, ``init_cfg``).
    """

    def __init__(
        self,
        vision_encoder: dict,
        med_config: dict,
        tokenizer: dict,
        share: str = 'all_but_self_attn',
        label_smoothing: float = 0.1,
        max_txt_len: int = 30,
        alpha_warmup_epochs: float = 2.0,
        **kwargs,
    ) -> None:
        super().__init__(
            vision_encoder,
            med_config,
            tokenizer,
            max_txt_len=max_txt_len,
            alpha_warmup_epochs=alpha_warmup_epochs,
            **kwargs,
        )
        self.text_decoder = MEDDecoder(self.med_config, label_smoothing=label_smoothing)
        self.share = share
        share_encoder_decoder(self.text_encoder, self.text_decoder, share)

    def forward(
        self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'loss'
    ):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.image_features(inputs)[1]
        raise ValueError(f"BlipPretrain supports mode 'loss' and 'tensor', got {mode!r}")

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        # official pre-training checkpoints name the queue pointer ``queue_ptr``
        if prefix + 'queue_ptr' in state_dict and prefix + 'ptr_queue' not in state_dict:
            state_dict[prefix + 'ptr_queue'] = state_dict.pop(prefix + 'queue_ptr')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def loss(self, inputs: torch.Tensor, data_samples: list, alpha: Optional[float] = None) -> dict:
        """ITC, ITM and LM losses of a batch of images (B, 3, H, W) and their captions
        (``gt_caption`` of each data sample). ``alpha`` overrides the ramped schedule."""
        texts = [_caption(s) for s in data_samples]
        alpha = ramped_alpha(self.alpha, self.alpha_warmup_epochs) if alpha is None else alpha
        rank, _ = get_dist_info()
        with torch.no_grad():
            self.temp.clamp_(0.001, 0.5)
        input_ids, atts = self.tokenize(texts)  # (B, L)
        B = input_ids.shape[0]

        # ITC: local online features against the global momentum batch and the queue
        image_embeds, image_feat = self.image_features(inputs)
        text_feat = self.text_features(input_ids, atts)
        image_feat_m, text_feat_m = self.momentum_features(inputs, input_ids, atts)
        image_feat_m_g = concat_all_gather(image_feat_m)  # (B_g, E)
        text_feat_m_g = concat_all_gather(text_feat_m)
        image_bank = torch.cat([image_feat_m_g.t(), self.image_queue.clone()], dim=1)
        text_bank = torch.cat([text_feat_m_g.t(), self.text_queue.clone()], dim=1)
        targets = one_hot_targets(B, image_bank.shape[1], rank * B, self.device)
        loss_itc, _, _ = itc_loss(
            image_feat,
            text_feat,
            image_feat_m,
            text_feat_m,
            image_bank,
            text_bank,
            self.temp,
            targets,
            alpha,
        )
        enqueue(
            [self.image_queue, self.text_queue], self.ptr_queue, [image_feat_m_g, text_feat_m_g]
        )

        # ITM: negatives weighted by online-vs-momentum similarity (official pre-training)
        with torch.no_grad():
            q_image, q_text = self.gather_queries(image_feat, text_feat)
            c_image, c_text = (
                (image_feat_m_g, text_feat_m_g)
                if self.negative_all_rank
                else (image_feat_m, text_feat_m)
            )
            positive = torch.eye(q_image.shape[0], dtype=torch.bool, device=self.device)
            sim_i2t = q_image @ c_text.t() / self.temp  # (Bq, Bq)
            sim_t2i = q_text @ c_image.t() / self.temp
        loss_itm = self.itm_loss(
            self.encoder_ids(input_ids), atts, image_embeds, sim_i2t, sim_t2i, positive, eps=1e-4
        )

        # LM: [DEC] captions, label-smoothed, mean over the global batch's tokens
        dec_ids = input_ids.clone()
        dec_ids[:, 0] = self.tokenizer.bos_token_id
        labels = dec_ids.masked_fill(dec_ids == self.tokenizer.pad_token_id, -100)
        per_seq = self.text_decoder.loss(
            dec_ids, atts, image_embeds, labels, reduction='none'
        )  # (B,)
        local_tokens = (labels[:, 1:] != -100).sum().float()
        global_tokens = all_reduce_sum(local_tokens).clamp(min=1)
        loss_lm = per_seq.sum() * get_dist_info()[1] / global_tokens
        return dict(loss_itc=loss_itc, loss_itm=loss_itm, loss_lm=loss_lm)


def _caption(sample) -> str:
    caption = sample.get('gt_caption') if isinstance(sample, DataSample) else sample
    if isinstance(caption, (list, tuple)) or not caption:
        raise ValueError(
            f'pre-training samples need one caption each (gt_caption: str); got {caption!r}'
        )
    return caption
