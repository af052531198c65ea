"""Parity of BlipNLVR against the official NLVR2 encoder (salesforce/BLIP
models/nlvr_encoder.py) on the same random weights: [ENC]-state logits within 1e-5.

The official code is not a dependency (it pins transformers 4.15), so this test runs only
where a checkout is given: ``BLIP_OFFICIAL_SRC=/path/to/BLIP pytest tests/models/...``. It
shims the three helpers transformers 5 moved, and drives the official embeddings and encoder
modules directly (its ``BertModel`` wrapper no longer initialises on transformers 5).
"""

import importlib.util
import os
import sys
import types

import pytest
import torch

from .test_nlvr import TEXTS, _official_keys, pairs, tiny

SRC = os.environ.get('BLIP_OFFICIAL_SRC')
pytestmark = pytest.mark.skipif(
    not SRC, reason='set BLIP_OFFICIAL_SRC to a salesforce/BLIP checkout to run'
)


def _official_nlvr_encoder():
    import transformers.modeling_utils as mu
    import transformers.pytorch_utils as pu
    from transformers.utils import ModelOutput

    mu.apply_chunking_to_forward = pu.apply_chunking_to_forward
    mu.prune_linear_layer = pu.prune_linear_layer
    mu.find_pruneable_heads_and_indices = getattr(mu, 'find_pruneable_heads_and_indices', None)
    sys.modules.setdefault('transformers.file_utils', types.ModuleType('transformers.file_utils'))
    sys.modules['transformers.file_utils'].ModelOutput = ModelOutput
    path = os.path.join(SRC, 'models', 'nlvr_encoder.py')
    spec = importlib.util.spec_from_file_location('official_nlvr_encoder', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_logits_equal_official(tmp_path) -> None:
    ne = _official_nlvr_encoder()
    (tmp_path / 'vocab.txt').write_text(
        '\n'.join(
            ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
            + ['there', 'is', 'a', 'red', 'blue', 'circle', 'square', 'on', 'the', 'left', 'right']
        )
        + '\n'
    )
    ours = tiny(str(tmp_path), layers=12)  # the official merge starts at layer 6 of 12
    med = ours.text_encoder.config
    cfg = ne.BertConfig(
        vocab_size=med.vocab_size,
        hidden_size=med.hidden_size,
        num_hidden_layers=12,
        num_attention_heads=med.num_heads,
        intermediate_size=med.intermediate_size,
        max_position_embeddings=med.max_position_embeddings,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=med.layer_norm_eps,
        add_cross_attention=True,
        pad_token_id=0,
    )
    cfg.encoder_width = med.encoder_width
    embeddings, encoder = ne.BertEmbeddings(cfg), ne.BertEncoder(cfg)
    sd = _official_keys(ours)
    embeddings.load_state_dict(
        {k[len('text_encoder.embeddings.') :]: v for k, v in sd.items() if '.embeddings.' in k}
    )
    encoder.load_state_dict(
        {k[len('text_encoder.encoder.') :]: v for k, v in sd.items() if '.encoder.' in k}
    )
    embeddings.eval(), encoder.eval()

    x = pairs(2)
    with torch.no_grad():
        want_ours = ours.logits(x, TEXTS)
        ids, atts = ours.tokenize(TEXTS)
        top, bottom = x.chunk(2, dim=2)
        e = ours.vision_encoder(torch.cat([top, bottom]))
        e0, e1 = e[:2], e[2:]
        ext = (1.0 - atts[:, None, None, :].float()) * -10000.0
        img_mask = torch.zeros(2, 1, 1, e0.shape[1])
        out = encoder(
            embeddings(ids),
            attention_mask=ext,
            encoder_hidden_states=[e0, e1],
            encoder_attention_mask=[img_mask, img_mask],
            mode='multimodal',
        )
        want = ours.cls_head(out.last_hidden_state[:, 0])
    torch.testing.assert_close(want_ours, want, atol=1e-5, rtol=1e-5)
