"""Image captioning: ViT + image-grounded text decoder (paper section 5.2)."""

from typing import Optional

import torch
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from ...registry import MODELS
from ..generation import generate
from ..med.tokenizer import load_tokenizer
from .momentum import ALIGNMENT_PARTS

__all__ = ['BlipCaption']

# Parts of BLIP checkpoints (pre-training, retrieval) that captioning does not use.
NON_CAPTION_PARTS = ('text_encoder',) + ALIGNMENT_PARTS
SAMPLE_REPETITION_PENALTY = 1.1


def build_vision_and_decoder(vision_encoder: dict, text_decoder: dict, tokenizer_len: int) -> tuple:
    """Build the ViT and the decoder. The decoder's cross-attention width defaults to the
    ViT's width (as the official ``med_config.encoder_width = vision_width``) and its
    vocabulary, when ``vocab_size`` is None, to the tokenizer's length."""
    vit = MODELS.build(vision_encoder)
    text_decoder = dict(text_decoder)
    cfg = text_decoder['config'] = dict(text_decoder.get('config', {}))
    cfg.setdefault('encoder_width', vit.embed_dim)
    if cfg.get('vocab_size', 0) is None:
        cfg['vocab_size'] = tokenizer_len
    return vit, MODELS.build(text_decoder)


@MODELS.register_module()
class BlipCaption(BaseModel):
    """BLIP captioner.

    Args:
        vision_encoder: config of the ViT (``BlipViT``).
        text_decoder: config of the decoder (``MEDDecoder``).
        tokenizer: kwargs of :func:`load_tokenizer`; ``name_or_path`` is the one place the
            tokenizer's location is set.
        prompt: text put before every caption in training and generation; stripped from the
            output. Defaults to 'a picture of '.
        max_txt_len: training captions (prompt included) are cut to this many tokens.
            Defaults to 40.
        generation: default kwargs of :func:`blip_plugin.models.generation.generate`
            (official COCO setting: beam 3, max_length 20, min_length 5; lengths count the
            prompt). Defaults to that setting. Sampling uses repetition_penalty 1.1 as the
            official code does, unless this or the call sets it.
        data_preprocessor: MMEngine data preprocessor config (mean/std, BGR->RGB).
        init_cfg: MMEngine init config.
    """

    unused_weight_prefixes = NON_CAPTION_PARTS

    def __init__(
        self,
        vision_encoder: dict,
        text_decoder: dict,
        tokenizer: dict,
        prompt: str = 'a picture of ',
        max_txt_len: int = 40,
        generation: Optional[dict] = None,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tokenizer = load_tokenizer(**tokenizer)
        self.vision_encoder, self.text_decoder = build_vision_and_decoder(
            vision_encoder, text_decoder, len(self.tokenizer)
        )
        if len(self.tokenizer) > self.text_decoder.config.vocab_size:
            raise ValueError(
                f'the tokenizer has {len(self.tokenizer)} tokens but the decoder '
                f'vocabulary only {self.text_decoder.config.vocab_size}'
            )
        self.prompt = prompt
        # the prompt's tokens after [DEC], without the trailing [SEP]
        self.prompt_length = len(self.tokenizer(prompt).input_ids) - 1
        self.max_txt_len = max_txt_len
        self.generation = dict(strategy='beam', num_beams=3, max_length=20, min_length=5)
        self.generation.update(generation or {})

    @property
    def device(self) -> torch.device:
        return self.text_decoder.lm_head.dense.weight.device

    # -- stages -------------------------------------------------------------------------------
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, 1+N, D) image embeddings."""
        return self.vision_encoder(images)

    def _tokenize(self, texts: list) -> tuple:
        tok = self.tokenizer(
            texts,
            padding='longest',
            truncation=True,
            max_length=self.max_txt_len,
            return_tensors='pt',
        )
        input_ids = tok.input_ids.to(self.device)
        input_ids[:, 0] = self.tokenizer.bos_token_id  # [CLS] -> [DEC]
        return input_ids, tok.attention_mask.to(self.device)

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
        """LM loss of ``prompt + caption`` with the prompt and padding masked."""
        captions = [self.prompt + _one_caption(s) for s in data_samples]
        input_ids, attention_mask = self._tokenize(captions)
        labels = input_ids.masked_fill(input_ids == self.tokenizer.pad_token_id, -100)
        labels[:, : self.prompt_length] = -100
        image_embeds = self.encode_image(inputs)
        return dict(loss_lm=self.text_decoder.loss(input_ids, attention_mask, image_embeds, labels))

    def predict(
        self, inputs: torch.Tensor, data_samples: Optional[list] = None, **overrides
    ) -> list:
        captions = self.generate_captions(inputs, **overrides)
        if data_samples is None:
            data_samples = [DataSample() for _ in captions]
        for sample, caption in zip(data_samples, captions):
            sample.pred_caption = caption
        return data_samples

    # -- plain-typed API ----------------------------------------------------------------------
    @torch.no_grad()
    def generate_captions(self, images: torch.Tensor, **overrides) -> list:
        """Caption normalised images (B, 3, H, W); ``overrides`` update the generation kwargs
        (e.g. ``strategy='sample', top_p=0.9``). Returns B strings without the prompt."""
        kwargs = {**self.generation, **overrides}
        if kwargs.get('strategy') == 'sample':
            # the official nucleus sampling hard-codes repetition_penalty=1.1 (models/blip.py)
            kwargs.setdefault('repetition_penalty', SAMPLE_REPETITION_PENALTY)
        n = kwargs.get('num_return_sequences', 1)
        image_embeds = self.encode_image(images)
        prompt_ids, _ = self._tokenize([self.prompt] * images.shape[0])
        prompt_ids = prompt_ids[:, :-1]  # drop [SEP]: the caption continues the prompt
        out = generate(
            self.text_decoder,
            prompt_ids,
            image_embeds,
            eos_token_id=self.tokenizer.sep_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            **kwargs,
        )
        texts = self.tokenizer.batch_decode(out, skip_special_tokens=True)
        # the official model strips the prompt by its length in characters
        captions = [t[len(self.prompt) :] for t in texts]
        return captions if n == 1 else [captions[i : i + n] for i in range(0, len(captions), n)]


def _one_caption(sample) -> str:
    caption = sample.get('gt_caption')
    if isinstance(caption, (list, tuple)):
        raise ValueError('training samples need one caption each (gt_caption: str); got a list')
    if not caption:
        raise ValueError(f'training sample {sample.metainfo} has no gt_caption')
    return caption
