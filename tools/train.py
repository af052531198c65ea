"""Train a model from a config (the layout of mmpretrain's ``tools/train.py``).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options KEY=VALUE ...] [--cfg-new KEY=VALUE ...] [--launcher pytorch]

``--cfg-options`` keys must already exist in the config (a typo is an error naming the key
and its close matches); ``--cfg-new`` adds keys on purpose. ``--amp`` needs CUDA: MMEngine's
``AmpOptimWrapper`` refuses CPUs, so a CPU run says so and stops instead of training in fp32.
"""

import argparse
import importlib.util
import os
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if importlib.util.find_spec('blip_plugin') is None:  # run from a checkout, not installed
    sys.path.insert(0, _REPO)

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from blip_plugin.engine import merge_cfg_options  # noqa: E402
from blip_plugin.registry import RUNNERS  # noqa: E402


def parse_args(argv: 'list[str] | None' = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a BLIP plugin model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, from work_dir/last_checkpoint',
    )
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision (AmpOptimWrapper; needs CUDA)'
    )
    parser.add_argument(
        '--no-validate', action='store_true', help='do not evaluate checkpoints during training'
    )
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by actual / auto_scale_lr.base_batch_size',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override existing config keys, KEY=VALUE with dotted keys (a.b.0.c); '
        'lists as key="[a,b]" or key=a,b. A key not in the config is an error.',
    )
    parser.add_argument(
        '--cfg-new',
        nargs='+',
        action=DictAction,
        help='like --cfg-options, for keys that are not in the config yet',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    # torch.distributed.launch passes --local-rank (torchrun sets LOCAL_RANK instead)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.amp and not torch.cuda.is_available():
        parser.error(
            "--amp needs a CUDA device (MMEngine's AmpOptimWrapper does not run on "
            'CPU); drop --amp to train in fp32 on CPU.'
        )
    args.parser = parser
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge command line arguments into ``cfg``."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    cfg.launcher = args.launcher
    # work_dir: command line > config > ./work_dirs/CONFIG_NAME
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr') is None:
            args.parser.error(
                '--auto-scale-lr: the config has no auto_scale_lr (dict(base_batch_size=...))'
            )
        cfg.auto_scale_lr.enable = True
    try:
        merge_cfg_options(cfg, args.cfg_options, args.cfg_new)
    except ValueError as e:
        args.parser.error(str(e))
    return cfg


def build_runner(cfg: Config) -> Runner:
    """``RUNNERS.build`` when the config names a ``runner_type``, else ``Runner.from_cfg``."""
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def main(argv: 'list[str] | None' = None) -> None:
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
