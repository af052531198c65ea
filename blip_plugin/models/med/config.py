"""Dimensions of the multimodal mixture of encoder-decoder (MED), defined once."""

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class MEDConfig:
    """BERT-base shaped MED (official configs/med_config.json), with no token-type embeddings.

    Args:
        vocab_size: bert-base-uncased (30522) + ``[DEC]`` + ``[ENC]``. Defaults to 30524.
        hidden_size: text width. Defaults to 768.
        num_layers: transformer layers. Defaults to 12.
        num_heads: attention heads. Defaults to 12.
        intermediate_size: FFN width. Defaults to 3072.
        max_position_embeddings: longest text. Defaults to 512.
        encoder_width: width of the image embeddings that cross-attention reads (the ViT's
            width: 768 for ViT-B, 1024 for ViT-L). Defaults to 768.
        layer_norm_eps: LayerNorm epsilon. Defaults to 1e-12.
        dropout: hidden and attention dropout. Defaults to 0.1.
        cross_attention: whether the layers have image cross-attention. Defaults to True.
        pad_token_id: padding id. Defaults to 0.
        tie_word_embeddings: tie the LM head's output matrix to the word embeddings, as the
            official model does. Defaults to True.
    """

    vocab_size: int = 30524
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    encoder_width: int = 768
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    cross_attention: bool = True
    pad_token_id: int = 0
    tie_word_embeddings: bool = True

    @classmethod
    def build(cls, cfg: 'MEDConfig | dict[str, Any]') -> 'MEDConfig':
        """Make a config from a dict (as in MMEngine config files), naming unknown keys."""
        if isinstance(cfg, cls):
            return cfg
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise KeyError(f'unknown MED config keys {unknown}; known keys: {sorted(known)}')
        return cls(**cfg)

    @classmethod
    def for_models(
        cls, cfg: 'dict[str, Any]', encoder_width: int, num_tokens: int, tokens: str = ''
    ) -> 'MEDConfig':
        """The MED of a BLIP model: cross-attention reads ``encoder_width`` (the ViT's width,
        as the official ``med_config.encoder_width = vision_width``) unless ``cfg`` says
        otherwise, ``vocab_size=None`` is sized to the tokenizer (toy configs), and a tokenizer
        with more than ``vocab_size`` tokens is refused (``tokens`` qualifies the count)."""
        cfg = {'encoder_width': encoder_width, **dict(cfg)}
        if cfg.get('vocab_size', 0) is None:
            cfg['vocab_size'] = num_tokens
        med = cls.build(cfg)
        if num_tokens > med.vocab_size:
            raise ValueError(
                f'the tokenizer has {num_tokens} tokens{tokens} but the MED vocabulary only '
                f'{med.vocab_size}'
            )
        return med

    def to_dict(self) -> dict:
        return asdict(self)
