"""Test (and evaluate) a checkpoint (the layout of mmpretrain's ``tools/test.py``).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out preds.pkl]
        [--cfg-options KEY=VALUE ...] [--launcher pytorch]

The checkpoint is read with ``torch.load(weights_only=True)`` through the runner's weight
loader. ``--out`` dumps the predictions (MMEngine's ``DumpResults``, a ``.pkl`` file).
"""

import argparse
import importlib.util
import os
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if importlib.util.find_spec('blip_plugin') is None:  # run from a checkout, not installed
    sys.path.insert(0, _REPO)

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.evaluator import DumpResults  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from blip_plugin.engine import merge_cfg_options  # noqa: E402
from blip_plugin.registry import RUNNERS  # noqa: E402


def parse_args(argv: 'list[str] | None' = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a BLIP plugin model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='dump the predictions to this .pkl file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override existing config keys, KEY=VALUE with dotted keys (a.b.0.c); '
        'a key not in the config is an error.',
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
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out {args.out}: predictions are dumped as a .pkl file')
    args.parser = parser
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge command line arguments into ``cfg``."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
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


def main(argv: 'list[str] | None' = None) -> dict:
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    if not osp.isfile(args.checkpoint):
        args.parser.error(f'checkpoint file not found: {args.checkpoint}')
    runner = build_runner(cfg)
    if args.out:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    return runner.test()


if __name__ == '__main__':
    main()
