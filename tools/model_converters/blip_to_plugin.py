"""Convert a BLIP checkpoint of any supported format to this plugin's names.

    python tools/model_converters/blip_to_plugin.py SRC DST [--format auto|official|mmpretrain|hf]
                                                    [--trust-pickle]

SRC: an official BLIP / LAVIS ``.pth``, an mmpretrain ``.pth``, a Hugging Face ``.bin`` /
``.safetensors`` file or model directory. DST: ``.pth`` (``torch.save`` of ``{'state_dict': sd,
'meta': {...}}``, loadable with ``weights_only=True``) or ``.safetensors`` (``meta`` in the
file's metadata). ``--trust-pickle`` unpickles a legacy file that holds more than tensors
(``weights_only=False``): it can run code, so use it only on files from a source you trust.
"""

import argparse
import os
import sys
from typing import Optional

import torch

from blip_plugin.models.convert import convert_state_dict, detect_format
from blip_plugin.models.weights import read_state_dict

TRUST_WARNING = (
    'WARNING: --trust-pickle: {src} is unpickled with weights_only=False, which '
    'can run arbitrary code. Do this only for a file from a source you trust.'
)


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint file or Hugging Face model directory')
    parser.add_argument('dst', help='output .pth or .safetensors')
    parser.add_argument(
        '--format',
        default='auto',
        choices=['auto', 'official', 'mmpretrain', 'hf', 'blip_plugin'],
        help='format of SRC; auto detects it from the keys',
    )
    parser.add_argument(
        '--trust-pickle',
        action='store_true',
        help='allow unpickling arbitrary objects (trusted files only)',
    )
    return parser.parse_args(argv)


def _unshare(sd: dict) -> dict:
    """safetensors refuses tensors that share memory (tied weights): give each its own."""
    seen, out = set(), {}
    for key, value in sd.items():
        ptr = value.untyped_storage().data_ptr() if value.numel() else None
        out[key] = value.clone() if ptr in seen else value.contiguous()
        seen.add(ptr)
    return out


def convert_file(src: str, dst: str, fmt: str = 'auto', trust_pickle: bool = False) -> dict:
    """Read ``src``, convert it and write ``dst``. Returns the meta written."""
    if not dst.endswith(('.pth', '.safetensors')):
        raise ValueError(f'DST must end in .pth or .safetensors, got {dst!r}')
    if trust_pickle:
        print(TRUST_WARNING.format(src=src), file=sys.stderr)
    sd = read_state_dict(src, trust_pickle=trust_pickle)
    source_format = detect_format(sd) if fmt == 'auto' else fmt
    converted = convert_state_dict(sd, source_format)
    meta = {'source_format': source_format, 'source': os.path.abspath(src)}
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    if dst.endswith('.safetensors'):
        from safetensors.torch import save_file

        save_file(_unshare(converted), dst, metadata=meta)
    else:
        torch.save({'state_dict': converted, 'meta': meta}, dst)
    print(f'{src} ({source_format}, {len(sd)} tensors) -> {dst} ({len(converted)} tensors)')
    return meta


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    try:
        convert_file(args.src, args.dst, args.format, args.trust_pickle)
    except (ValueError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
