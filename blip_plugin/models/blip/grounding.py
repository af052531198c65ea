"""Visual grounding: a referring expression -> the box it names, decoded as four tokens
(mmpretrain models/multimodal/blip/blip_grounding.py, config blip-base_8xb16_refcoco.py).

The text (``[CLS] expression [SEP]``) goes through the unimodal ``text_encoder``, then its states
through the ``multimodal_encoder``'s layers (bidirectional, cross-attending to the image; its
word embeddings are not used, as mmpretrain's ``encoder_embeds`` path). The ``text_decoder``
cross-attends to the image embeddings and these text states side by side and decodes the box
(:class:`~blip_plugin.models.heads.grounding_head.BlipGroundingHead`).
"""

from typing import Optional

import torch
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from ...registry import MODELS
from ..heads.grounding_head import BlipGroundingHead, box_xyxy_to_cxcywh
from ..med import MEDConfig, MEDDecoder, MEDTransformer, load_tokenizer
from .momentum import bert_init

__all__ = ['BlipGrounding']


@MODELS.register_module()
class BlipGrounding(BaseModel):
    """BLIP visual grounding.

    Attribute names are this plugin's (``vision_encoder``, ``text_encoder``,
    ``multimodal_encoder``, ``text_decoder``); mmpretrain's ``blip-base_8xb16_refcoco``
    checkpoint loads through :mod:`blip_plugin.models.convert` (its ``grounding_head.decoder``
    becomes ``text_decoder``; its token buffers are checked against the tokenizer, then dropped).

    Args:
        vision_encoder: config of the ViT (``BlipViT``).
        med_config: :class:`MEDConfig` fields of the three text stacks; ``vocab_size`` None
            takes the tokenizer's length (after the bin tokens are added). The decoder reads
            image and text states side by side, so the ViT and the MED must have one width.
        tokenizer: kwargs of :func:`load_tokenizer`.
        num_bins: box coordinate bins (mmpretrain ``image_res``). Defaults to 640.
        max_txt_len: expressions are cut to this many tokens. Defaults to 128 (mmpretrain).
        weighted_loss: see :class:`BlipGroundingHead`. Defaults to False.
        box_l1_loss_coeff: see :class:`BlipGroundingHead`. Defaults to 4.0.
        box_giou_loss_coeff: see :class:`BlipGroundingHead`. Defaults to 2.0.
        data_preprocessor: MMEngine data preprocessor config.
        init_cfg: MMEngine init config.
    """

    def __init__(
        self,
        vision_encoder: dict,
        med_config: dict,
        tokenizer: dict,
        num_bins: int = 640,
        max_txt_len: int = 128,
        weighted_loss: bool = False,
        box_l1_loss_coeff: float = 4.0,
        box_giou_loss_coeff: float = 2.0,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tokenizer = load_tokenizer(**tokenizer)
        # before the MED: a toy tokenizer gets its bin tokens here
        self.grounding_head = BlipGroundingHead(
            self.tokenizer, num_bins, weighted_loss, box_l1_loss_coeff, box_giou_loss_coeff
        )
        self.vision_encoder = MODELS.build(vision_encoder)
        width = self.vision_encoder.embed_dim
        med = MEDConfig.for_models(
            med_config, width, len(self.tokenizer), tokens=' (bin tokens included)'
        )
        if med.hidden_size != width:
            raise ValueError(
                f'the box decoder reads image ({width}-d) and text ({med.hidden_size}-d) states '
                'as one sequence: vision_encoder and med_config.hidden_size need one width'
            )
        self.text_encoder = MEDTransformer(med)
        self.multimodal_encoder = MEDTransformer(med)
        bert_init(self.text_encoder)
        bert_init(self.multimodal_encoder)
        self.text_decoder = MEDDecoder(dict(med.to_dict(), encoder_width=med.hidden_size))
        self.max_txt_len = max_txt_len

    @property
    def device(self) -> torch.device:
        return self.text_decoder.lm_head.dense.weight.device

    # -- stages -------------------------------------------------------------------------------
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, 1+N, D) image embeddings."""
        return self.vision_encoder(images)

    def tokenize(self, texts: list) -> tuple:
        """Expressions -> ids (B, L) ``[CLS] text [SEP]`` and mask (B, L)."""
        tok = self.tokenizer(
            list(texts),
            padding='longest',
            truncation=True,
            max_length=self.max_txt_len,
            return_tensors='pt',
        )
        return tok.input_ids.to(self.device), tok.attention_mask.to(self.device)

    def encode_multimodal(
        self, text_states: torch.Tensor, text_atts: torch.Tensor, image_embeds: torch.Tensor
    ) -> torch.Tensor:
        """The multimodal encoder's layers over given text states (B, L, H), bidirectional,
        cross-attending to the image (B, 1+N, D) -> (B, L, H)."""
        stack = self.multimodal_encoder
        pad = not bool(text_atts.all())
        self_mask = text_atts[:, None, None, :].bool() if pad else None  # (B, 1, 1, L)
        x = text_states
        for layer, kv in zip(stack.layers, stack.image_kv(image_embeds)):
            x, _ = layer(x, self_mask, False, None, kv, None)
        return x

    def memory(self, images: torch.Tensor, texts: list) -> tuple:
        """What the box decoder reads: image embeddings then image-grounded text states
        (B, 1+N+L, H), and its mask (B, 1+N+L)."""
        image_embeds = self.encode_image(images)  # (B, 1+N, D)
        ids, atts = self.tokenize(texts)  # (B, L)
        text_states = self.text_encoder(ids, atts)  # (B, L, H), unimodal
        mm_states = self.encode_multimodal(text_states, atts, image_embeds)  # (B, L, H)
        image_atts = atts.new_ones(image_embeds.shape[:2])  # (B, 1+N)
        memory = torch.cat([image_embeds, mm_states], dim=1)
        return memory, torch.cat([image_atts, atts], dim=1)

    # -- runner API ---------------------------------------------------------------------------
    def forward(
        self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'loss'
    ):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.encode_image(inputs)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """Box-token loss of images (B, 3, H, W) with ``text`` and ``gt_bboxes`` (1, 4) xyxy in
        the pixels of ``inputs`` (after the pipeline's resize / pad)."""
        H, W = inputs.shape[-2:]
        boxes = []
        for i, sample in enumerate(data_samples):
            if 'text' not in sample or 'gt_bboxes' not in sample:
                raise KeyError(f"grounding sample {i} needs 'text' and 'gt_bboxes'")
            box = torch.as_tensor(sample.gt_bboxes, dtype=torch.float32).reshape(-1, 4)[0]
            boxes.append(box / box.new_tensor([W, H, W, H]))
        boxes = box_xyxy_to_cxcywh(torch.stack(boxes).to(self.device))  # (B, 4) in [0, 1]
        memory, mask = self.memory(inputs, [s.text for s in data_samples])
        return self.grounding_head.loss(self.text_decoder, memory, mask, boxes)

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: list) -> list:
        """Set ``pred_bboxes`` (1, 4) xyxy in the pixels of the original image (the input
        scaled back by ``scale_factor`` (w, h), as mmpretrain); ``gt_bboxes`` given in input
        pixels are scaled back the same way."""
        H, W = inputs.shape[-2:]
        memory, mask = self.memory(inputs, [s.text for s in data_samples])
        boxes = self.grounding_head.predict(self.text_decoder, memory, mask).float().cpu()
        out = []
        for box, sample in zip(boxes, data_samples):
            sample = sample if sample is not None else DataSample()
            sw, sh = sample.get('scale_factor', (1.0, 1.0))
            scale = torch.tensor([W / sw, H / sh, W / sw, H / sh])
            sample.pred_bboxes = (box * scale)[None]  # (1, 4)
            if 'gt_bboxes' in sample:
                gt = torch.as_tensor(sample.gt_bboxes, dtype=torch.float32).reshape(-1, 4)
                sample.gt_bboxes = gt / torch.tensor([sw, sh, sw, sh])
            out.append(sample)
        return out
