"""The BLIP tokenizer: bert-base-uncased plus ``[DEC]`` (bos) and ``[ENC]``.

The official ``init_tokenizer`` (models/blip.py) adds ``[DEC]`` as bos and ``[ENC]`` as an
additional special token; on bert-base-uncased they get ids 30522 and 30523.
"""

import os

from transformers import PreTrainedTokenizerBase

try:  # transformers 4.x names the Rust-backed class *Fast; 5.x keeps the alias or drops it
    from transformers import BertTokenizerFast as _BertTokenizer
except ImportError:  # pragma: no cover
    from transformers import BertTokenizer as _BertTokenizer

__all__ = ['load_tokenizer']

DEC_TOKEN, ENC_TOKEN = '[DEC]', '[ENC]'


def load_tokenizer(name_or_path: str = 'bert-base-uncased') -> PreTrainedTokenizerBase:
    """Load a BERT WordPiece tokenizer from a hub name or a local directory and add BLIP's
    tokens. The result carries ``dec_token_id`` (== ``bos_token_id``) and ``enc_token_id``.

    Args:
        name_or_path: hub name or a directory holding ``vocab.txt`` (and optionally
            ``tokenizer_config.json``). Defaults to 'bert-base-uncased'.
    """
    try:
        tok = _BertTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as e:
        where = 'directory' if os.path.isdir(name_or_path) else 'hub name'
        raise OSError(
            f'could not load the tokenizer from {where} {name_or_path!r} (config key '
            f'model.tokenizer.name_or_path): {e}. Offline, point it at a local directory '
            f"holding bert-base-uncased's vocab.txt."
        ) from e
    if tok.convert_tokens_to_ids(DEC_TOKEN) in (None, tok.unk_token_id):
        tok.add_special_tokens({'bos_token': DEC_TOKEN})
    if tok.convert_tokens_to_ids(ENC_TOKEN) in (None, tok.unk_token_id):
        tok.add_special_tokens({'additional_special_tokens': [ENC_TOKEN]})
    tok.bos_token = DEC_TOKEN
    tok.dec_token_id = tok.convert_tokens_to_ids(DEC_TOKEN)
    tok.enc_token_id = tok.convert_tokens_to_ids(ENC_TOKEN)
    return tok
