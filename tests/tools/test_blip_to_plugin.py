"""tools/model_converters/blip_to_plugin.py: any BLIP checkpoint -> this plugin's names."""

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from transformers import BlipTextConfig
from transformers.models.blip.modeling_blip_text import BlipTextLMHeadModel

from blip_plugin.models.convert import convert_state_dict
from blip_plugin.models.weights import read_state_dict

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'model_converters' / 'blip_to_plugin.py'


def _load_tool():
    spec = importlib.util.spec_from_file_location('blip_to_plugin', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def official_decoder_checkpoint() -> dict:
    """An official-layout caption decoder (tied LM head, position_ids) plus a 1-block ViT."""
    torch.manual_seed(0)
    text = BlipTextLMHeadModel(
        BlipTextConfig(
            vocab_size=40,
            hidden_size=32,
            encoder_hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            max_position_embeddings=16,
            bos_token_id=1,
            sep_token_id=3,
            eos_token_id=3,
        )
    )
    sd = {f'text_decoder.{k}': v for k, v in text.state_dict().items()}
    sd['text_decoder.bert.embeddings.position_ids'] = torch.arange(16)[None]
    sd.update(
        {
            'visual_encoder.cls_token': torch.randn(1, 1, 32),
            'visual_encoder.pos_embed': torch.randn(1, 5, 32),
            'visual_encoder.patch_embed.proj.weight': torch.randn(32, 3, 8, 8),
            'visual_encoder.patch_embed.proj.bias': torch.randn(32),
            'visual_encoder.norm.weight': torch.randn(32),
            'visual_encoder.norm.bias': torch.randn(32),
        }
    )
    return sd


@pytest.fixture
def official_file(tmp_path) -> tuple:
    sd = official_decoder_checkpoint()
    path = str(tmp_path / 'model_base_caption.pth')
    torch.save({'model': sd}, path)
    return path, sd


def test_official_to_pth(tmp_path, official_file):
    src, sd = official_file
    dst = str(tmp_path / 'out' / 'converted.pth')
    assert tool.main([src, dst]) == 0
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta'] == {'source_format': 'official', 'source': os.path.abspath(src)}
    expected = convert_state_dict(sd)
    assert sorted(ckpt['state_dict']) == sorted(expected)
    for k, v in expected.items():
        assert torch.equal(ckpt['state_dict'][k], v), k
    assert read_state_dict(dst).keys() == expected.keys()  # the loader reads it back


def test_official_to_safetensors_with_tied_weights(tmp_path, official_file):
    src, sd = official_file
    dst = str(tmp_path / 'converted.safetensors')
    assert tool.main([src, dst, '--format', 'official']) == 0
    with safe_open(dst, framework='pt') as f:
        assert f.metadata() == {'source_format': 'official', 'source': os.path.abspath(src)}
    out = read_state_dict(dst)
    assert torch.equal(
        out['text_decoder.lm_head.decoder.weight'],
        sd['text_decoder.bert.embeddings.word_embeddings.weight'],
    )
    assert 'text_decoder.transformer.embeddings.word.weight' in out


def test_mmpretrain_source_and_wrong_format(tmp_path, official_file, capsys):
    _, sd = official_file
    mm = {
        k.replace('text_decoder.', 'seq_gen_head.decoder.')
        .replace('visual_encoder.patch_embed.proj.', 'visual_encoder.patch_embed.projection.')
        .replace('visual_encoder.norm.', 'visual_encoder.ln1.'): v
        for k, v in sd.items()
    }
    src = str(tmp_path / 'mm.pth')
    torch.save({'state_dict': mm, 'meta': {'mmpretrain_version': '1.2.0'}}, src)
    assert tool.main([src, str(tmp_path / 'a.pth')]) == 0
    a = torch.load(str(tmp_path / 'a.pth'), weights_only=True)
    assert a['meta']['source_format'] == 'mmpretrain'
    assert tool.main([src, str(tmp_path / 'b.pth'), '--format', 'official']) == 1
    err = capsys.readouterr().err
    assert (
        'no mapping' in err and 'seq_gen_head.decoder.bert.embeddings.word_embeddings.weight' in err
    )
    assert not (tmp_path / 'b.pth').exists()


def test_legacy_pickle_needs_trust_pickle(tmp_path, official_file, capsys):
    _, sd = official_file
    src = str(tmp_path / 'legacy.pth')
    torch.save({'model': sd, 'args': argparse.Namespace(lr=1e-5)}, src)
    dst = str(tmp_path / 'out.pth')
    assert tool.main([src, dst]) == 1
    err = capsys.readouterr().err
    assert 'weights only' in err and '--trust-pickle' in err
    assert tool.main([src, dst, '--trust-pickle']) == 0
    assert 'WARNING: --trust-pickle' in capsys.readouterr().err
    assert torch.load(dst, weights_only=True)['meta']['source_format'] == 'official'


def test_bad_destination(tmp_path, official_file, capsys):
    src, _ = official_file
    assert tool.main([src, str(tmp_path / 'out.ckpt')]) == 1
    assert 'DST must end in .pth or .safetensors' in capsys.readouterr().err


def test_command_line(tmp_path, official_file):
    src, _ = official_file
    dst = str(tmp_path / 'cli.pth')
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])
    )
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), src, dst],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert '(official, ' in proc.stdout and os.path.isfile(dst)


def test_help_names_every_option(capsys):
    with pytest.raises(SystemExit):
        tool.main(['--help'])
    help_text = capsys.readouterr().out
    assert '--trust-pickle' in help_text and 'auto,official,mmpretrain,hf' in help_text
