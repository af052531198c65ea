"""NLVR2: is a statement true of a pair of images? (paper section 5.3, Figure 8; official
models/blip_nlvr.py and train_nlvr.py).

Both images go through the ViT; the statement, with ``[ENC]`` in place of ``[CLS]``, is
encoded by :class:`NLVREncoder` (cross-attention to each image, merged), and an MLP on the
``[ENC]`` state gives True/False logits.

A pair travels through the data pipeline as one image of twice the height: the two
same-size images stacked top (image 0) over bottom (image 1), shape (B, 3, 2H, W)
(transform ``StackImagePair``). MMEngine's collate and data preprocessor then need nothing
special; the model splits the halves again.
"""

import re
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample
from torch import nn

from ...registry import MODELS
from ..med import MEDConfig, load_tokenizer
from .momentum import ALIGNMENT_PARTS, bert_init
from .nlvr_encoder import NLVREncoder

__all__ = ['BlipNLVR', 'split_pair']

# Parts of BLIP checkpoints (pre-training, retrieval) that NLVR2 does not use.
NON_NLVR_PARTS = ALIGNMENT_PARTS + ('text_decoder',)
_SINGLE_CROSS = re.compile(r'(.*layers\.\d+\.)cross_attn\.(q|k|v|out)\.(weight|bias)$')


def split_pair(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, 2H, W) stacked pairs -> image 0 (B, 3, H, W), image 1 (B, 3, H, W)."""
    if images.dim() != 4 or images.shape[2] % 2:
        raise ValueError(
            f'NLVR2 expects image pairs stacked along the height, (B, 3, 2H, W); got '
            f'{tuple(images.shape)}'
        )
    return images.chunk(2, dim=2)


@MODELS.register_module()
class BlipNLVR(BaseModel):
    """BLIP NLVR2 classifier.

    Attribute names are the official checkpoint's after :mod:`blip_plugin.models.convert`, so
    ``model_base_nlvr.pth`` and mmpretrain's ``blip-base_3rdparty_nlvr`` load into it. A
    pre-training (or retrieval) checkpoint initialises it as the official fine-tuning does:
    each single cross-attention is copied to both twins; the merge layers and the MLP head
    stay freshly initialised (the runner's ``load_from`` logs them as missing).

    Args:
        vision_encoder: config of the ViT (``BlipViT``).
        med_config: :class:`MEDConfig` fields of the encoder (``encoder_width`` defaults to
            the ViT's width; ``vocab_size`` None takes the tokenizer's length).
        tokenizer: kwargs of :func:`load_tokenizer`.
        max_txt_len: statements are cut to this many tokens; None keeps them whole, as the
            official model (it pads to the longest). Defaults to None.
        init_std: std of the normal init of the text encoder and the MLP head (BERT's
            ``initializer_range``); weights a checkpoint loads replace it. The official
            0.02 suits the 768-wide MED; the 64-wide toy MED, trained from scratch, only
            learns the shapes world with a larger one (docs/nlvr.md). Defaults to 0.02.
        data_preprocessor: MMEngine data preprocessor config.
        init_cfg: MMEngine init config.
    """

    unused_weight_prefixes = NON_NLVR_PARTS

    def __init__(
        self,
        vision_encoder: dict,
        med_config: dict,
        tokenizer: dict,
        max_txt_len: Optional[int] = None,
        init_std: float = 0.02,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tokenizer = load_tokenizer(**tokenizer)
        self.vision_encoder = MODELS.build(vision_encoder)
        med = MEDConfig.for_models(med_config, self.vision_encoder.embed_dim, len(self.tokenizer))
        self.text_encoder = NLVREncoder(med)
        H = med.hidden_size
        self.cls_head = nn.Sequential(nn.Linear(H, H), nn.ReLU(), nn.Linear(H, 2))
        bert_init(self.text_encoder, init_std)
        bert_init(self.cls_head, init_std)
        self.max_txt_len = max_txt_len

    @property
    def device(self) -> torch.device:
        return self.cls_head[0].weight.device

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        # a checkpoint with one cross-attention per layer (pre-training, retrieval): copy it
        # to both twins (official blip_nlvr.load_checkpoint)
        for key in [k for k in state_dict if k.startswith(prefix)]:
            m = _SINGLE_CROSS.fullmatch(key[len(prefix) :])
            if m is None:
                continue
            value = state_dict.pop(key)
            for side in '01':
                twin = f'{prefix}{m[1]}cross_attn{side}.{m[2]}.{m[3]}'
                state_dict.setdefault(twin, value.clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- stages -------------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Statements -> ids (B, L) with ``[ENC]`` first (official) and mask (B, L)."""
        kw = dict(truncation=True, max_length=self.max_txt_len) if self.max_txt_len else {}
        tok = self.tokenizer(list(texts), padding='longest', return_tensors='pt', **kw)
        ids = tok.input_ids.to(self.device)
        ids[:, 0] = self.tokenizer.enc_token_id
        return ids, tok.attention_mask.to(self.device)

    def logits(self, images: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """(B, 3, 2H, W) stacked pairs and B statements -> (B, 2) False/True logits."""
        if len(texts) != images.shape[0]:
            raise ValueError(f'{images.shape[0]} image pairs but {len(texts)} statements')
        image0, image1 = split_pair(images)
        B = image0.shape[0]
        embeds = self.vision_encoder(torch.cat([image0, image1]))  # (2B, 1+N, D)
        ids, atts = self.tokenize(texts)
        states = self.text_encoder(ids, atts, image_embeds=(embeds[:B], embeds[B:]))
        return self.cls_head(states[:, 0])  # (B, 2)

    # -- runner API ---------------------------------------------------------------------------
    def forward(
        self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'loss'
    ):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.logits(inputs, [_text(s, i) for i, s in enumerate(data_samples)])
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """Cross-entropy of the True/False logits against ``gt_label`` (1 = True)."""
        texts = [_text(s, i) for i, s in enumerate(data_samples)]
        labels = torch.tensor([_label(s, i) for i, s in enumerate(data_samples)])
        logits = self.logits(inputs, texts)
        return dict(loss=F.cross_entropy(logits, labels.to(logits.device)))

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: list) -> list:
        """Sets ``pred_score`` (2,) softmax and ``pred_label`` (0/1) on each sample."""
        texts = [_text(s, i) for i, s in enumerate(data_samples)]
        probs = F.softmax(self.logits(inputs, texts).float(), dim=1).cpu()
        for sample, p in zip(data_samples, probs):
            sample.set_pred_score(p).set_pred_label(int(p.argmax()))
        return data_samples

    # -- plain-typed API ----------------------------------------------------------------------
    @torch.no_grad()
    def verify(self, images: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """Probability (B,) that each statement is true of its stacked pair (B, 3, 2H, W)."""
        return F.softmax(self.logits(images, texts).float(), dim=1)[:, 1]


def _text(sample: DataSample, i: int) -> str:
    text = sample.get('text')
    if not isinstance(text, str):
        raise ValueError(f'NLVR2 sample {i} needs a statement (text: str), got {text!r}')
    return text


def _label(sample: DataSample, i: int) -> int:
    label = sample.get('gt_label')
    if label is None:
        raise ValueError(f'NLVR2 training sample {i} has no gt_label')
    return int(label.reshape(-1)[0]) if hasattr(label, 'reshape') else int(label)
