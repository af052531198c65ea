"""CapFilt: bootstrap a pre-training set from web pairs (paper section 3.4).

    python tools/capfilt.py CONFIG --web-ann web.json --out DIR [--human-ann coco.json]
        [--captioner-ckpt CKPT] [--filter-ckpt CKPT] [--image-root DIR]
        [--merge-only] [--truth TRUTH.json] [--cfg-options KEY=VALUE ...] [--launcher pytorch]

The captioner writes ``capfilt.num_captions`` synthetic captions per web image, the filter
scores every web text and synthetic caption with ITM, and the kept ones (with the human pairs)
go to ``DIR/bootstrapped.json`` in the pre-training format, counts to ``DIR/summary.json``.
Shards (``DIR/shards/``) make it resumable: run the same command again after an interruption.
Distributed: ``bash tools/dist_capfilt.sh CONFIG GPUS --web-ann ... --out ...``.
``--merge-only`` re-makes the output from finished shards (e.g. with another
``capfilt.threshold``); ``--truth`` adds the filter's precision / recall on planted noise.
"""

import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
from dataclasses import asdict

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if importlib.util.find_spec('blip_plugin') is None:  # run from a checkout, not installed
    sys.path.insert(0, _REPO)

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import get_dist_info, init_dist  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

from blip_plugin.apis.checkpoint import resolve_checkpoint  # noqa: E402
from blip_plugin.apis.pipeline import build_inference_pipeline  # noqa: E402
from blip_plugin.capfilt import (  # noqa: E402
    AnnotationSource,
    CapFiltSettings,
    filter_precision_recall,
    merge_shards,
    run_capfilt,
)
from blip_plugin.engine import merge_cfg_options  # noqa: E402
from blip_plugin.engine.checkpoint import atomic_write_text  # noqa: E402
from blip_plugin.models.weights import load_blip_weights  # noqa: E402
from blip_plugin.registry import MODELS, SCOPE  # noqa: E402


def parse_args(argv: 'list[str] | None' = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='CapFilt: caption and filter web pairs')
    parser.add_argument('config', help='CapFilt config (captioner, filter, capfilt)')
    parser.add_argument('--web-ann', required=True, help='web pairs: .json list or .jsonl')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--human-ann', help='human-annotated pairs put first in the output')
    parser.add_argument('--captioner-ckpt', help='captioner weights (else captioner_load_from)')
    parser.add_argument('--filter-ckpt', help='filter weights (else filter_load_from)')
    parser.add_argument('--image-root', help='joined before relative image paths of --web-ann')
    parser.add_argument('--device', help="default: 'cuda' (this rank's GPU) if there is one")
    parser.add_argument(
        '--merge-only', action='store_true', help='only merge finished shards into the output'
    )
    parser.add_argument('--truth', help="truth file (shapes world's web_pairs_truth.json)")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override existing config keys, KEY=VALUE with dotted keys (capfilt.threshold=0.6)',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    args.parser = parser
    return args


def build_model(cfg: Config, key: str, checkpoint: 'str | None', device: str) -> torch.nn.Module:
    if key not in cfg:
        raise KeyError(f'{cfg.filename}: no `{key}` model config')
    with DefaultScope.overwrite_default_scope(SCOPE):
        model = MODELS.build(cfg[key])
    if checkpoint:
        load_blip_weights(model, resolve_checkpoint(checkpoint), name=f'{key} {checkpoint}')
    else:
        MMLogger.get_current_instance().warning(
            f'capfilt: no {key} checkpoint (--{key}-ckpt or {key}_load_from): random weights'
        )
    return model.to(device).eval()


def main(argv: 'list[str] | None' = None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    # every setting may be overridden, also those the config leaves at their defaults
    cfg.capfilt = {**asdict(CapFiltSettings()), **cfg.get('capfilt', {})}
    try:
        merge_cfg_options(cfg, args.cfg_options)
    except ValueError as e:
        args.parser.error(str(e))
    settings = CapFiltSettings.from_cfg(cfg.get('capfilt'))
    if args.image_root is not None:
        settings.image_root = args.image_root
    if args.launcher == 'pytorch':
        if torch.cuda.is_available():
            init_dist('pytorch', backend=cfg.get('dist_backend', 'nccl'))
        else:  # mmengine's launcher would call torch.cuda.set_device: gloo on the CPU
            torch.distributed.init_process_group(backend='gloo')
    rank, _ = get_dist_info()
    os.makedirs(args.out, exist_ok=True)
    name = f'capfilt:{osp.abspath(args.out)}'
    if MMLogger.check_instance_created(name):
        logger = MMLogger.get_instance(name)
    else:
        logger = MMLogger.get_instance(name, log_file=osp.join(args.out, 'capfilt.log'))
    if args.merge_only:
        summary = merge_shards(
            args.out,
            threshold=settings.threshold,
            filter_synthetic=settings.filter_synthetic,
            human_ann=args.human_ann,
            logger=logger,
        )
    else:
        device = args.device or (
            f'cuda:{os.environ["LOCAL_RANK"]}' if torch.cuda.is_available() else 'cpu'
        )
        ckpts = dict(
            captioner=args.captioner_ckpt or cfg.get('captioner_load_from'),
            filter=args.filter_ckpt or cfg.get('filter_load_from'),
        )
        captioner = build_model(cfg, 'captioner', ckpts['captioner'], device)
        capfilter = build_model(cfg, 'filter', ckpts['filter'], device)
        pipeline = build_inference_pipeline(cfg, captioner)
        source = AnnotationSource(args.web_ann, image_root=settings.image_root)
        summary = run_capfilt(
            captioner,
            capfilter,
            source,
            args.out,
            pipeline,
            settings,
            human_ann=args.human_ann,
            fingerprint=dict(checkpoints=ckpts),
            logger=logger,
        )
    if rank == 0 and args.truth:
        pr = filter_precision_recall(args.truth, args.out, threshold=settings.threshold)
        logger.info(f'capfilt: removing planted noise ({args.truth}): {json.dumps(pr)}')
        summary['noise_removal'] = pr
        atomic_write_text(json.dumps(summary, indent=1), osp.join(args.out, 'summary.json'))
    return summary


if __name__ == '__main__':
    main()
