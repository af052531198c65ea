"""Multi-round bootstrapping (the BLIP paper's future work, section 7): R rounds of

    pre-train -> fine-tune captioner and filter on the human data -> CapFilt the web data ->
    pre-train again on the bootstrapped set

    python tools/capfilt_rounds.py CONFIG [--work-dir DIR] [--gpus N] [--dry-run]

CONFIG holds a ``rounds`` dict (see configs/capfilt/blip-base_capfilt-rounds.py and the toy
configs/toy/blip-tiny_shapes-capfilt-rounds.py): the pre-training, captioner, filter and
CapFilt configs with their ``--cfg-options``, the human and web annotation lists, and
``num_rounds``. Round 0 pre-trains on human + web; round r >= 1 pre-trains on the set that
round r - 1 bootstrapped from the original web data. Every step is a run of tools/train.py
or tools/capfilt.py (tools/dist_*.sh with ``--gpus`` > 1) in its own folder under the work
dir; a step whose output exists is skipped, so re-running the command resumes where it
stopped (the steps themselves resume too: --resume for training, shards for CapFilt).
"""

import argparse
import os.path as osp
import subprocess
import sys
from dataclasses import dataclass, field

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@dataclass
class Step:
    """One command of the plan, done when ``output`` exists."""

    name: str
    cmd: list
    output: str
    work_dir: str = ''
    notes: list = field(default_factory=list)


def _opts(options: list) -> list:
    return ['--cfg-options', *options] if options else []


def _last_checkpoint(work_dir: str) -> str:
    """Where a finished training run's last checkpoint is (MMEngine's pointer file)."""
    return osp.join(work_dir, 'last_checkpoint')


def _train(name: str, spec: dict, work: str, gpus: int, extra: list) -> Step:
    wd = osp.join(work, name)
    cfg = spec['config']
    if gpus > 1:
        cmd = ['bash', osp.join(REPO, 'tools/dist_train.sh'), cfg, str(gpus)]
    else:
        cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), cfg]
    cmd += ['--work-dir', wd] + _opts(list(spec.get('cfg_options', [])) + extra)
    return Step(name, cmd, osp.join(wd, 'DONE'), wd)


def plan(rounds: dict, work: str, gpus: int = 1) -> list:
    """The steps of every round, in order (pure: nothing is run)."""
    for key in ('num_rounds', 'pretrain', 'captioner', 'filter', 'capfilt', 'human_ann', 'web_ann'):
        if key not in rounds:
            raise KeyError(f"the rounds config has no '{key}'")
    ann_key = rounds.get('ann_key', 'train_dataloader.dataset.ann_file')
    # absolute paths: a config's data_root is not joined before them
    human, web, work = (
        osp.abspath(rounds['human_ann']),
        osp.abspath(rounds['web_ann']),
        osp.abspath(work),
    )
    steps, data = [], [human, web]  # round 0 pre-trains on human + web pairs
    for r in range(rounds['num_rounds'] + 1):
        files = f'{ann_key}=[{",".join(data)}]'  # MMEngine's list syntax (spaces are dropped)
        pre = _train(f'round{r}_pretrain', rounds['pretrain'], work, gpus, [files])
        steps.append(pre)
        if r == rounds['num_rounds']:
            break
        ckpt = '@' + _last_checkpoint(pre.work_dir)  # resolved when the step runs
        # captioner and filter fine-tune on the human data their own configs name
        cap = _train(f'round{r}_captioner', rounds['captioner'], work, gpus, [f'load_from={ckpt}'])
        filt = _train(f'round{r}_filter', rounds['filter'], work, gpus, [f'load_from={ckpt}'])
        out = osp.join(work, f'round{r}_capfilt')
        spec = rounds['capfilt']
        if gpus > 1:
            cmd = ['bash', osp.join(REPO, 'tools/dist_capfilt.sh'), spec['config'], str(gpus)]
        else:
            cmd = [sys.executable, osp.join(REPO, 'tools/capfilt.py'), spec['config']]
        cmd += ['--web-ann', web, '--human-ann', human, '--out', out]
        cmd += ['--captioner-ckpt', '@' + _last_checkpoint(cap.work_dir)]
        cmd += ['--filter-ckpt', '@' + _last_checkpoint(filt.work_dir)]
        if rounds.get('image_root'):
            cmd += ['--image-root', rounds['image_root']]
        cmd += _opts(list(spec.get('cfg_options', [])))
        steps += [cap, filt, Step(f'round{r}_capfilt', cmd, osp.join(out, 'bootstrapped.json'))]
        data = [osp.join(out, 'bootstrapped.json')]
    return steps


def _materialise(cmd: list) -> list:
    """Replace ``@pointer`` arguments by the checkpoint path the pointer file holds."""
    out = []
    for a in cmd:
        key, sep, value = a.partition('=@')
        path = value if sep else (a[1:] if a.startswith('@') else None)
        if path is None:
            out.append(a)
            continue
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}: the step that writes it has not finished')
        ckpt = open(path, encoding='utf-8').read().strip()
        out.append(f'{key}={ckpt}' if sep else ckpt)
    return out


def command(step: Step) -> list:
    """The step's command as it runs now: a training step with a checkpoint in its work dir
    resumes from it (its ``load_from`` initialisation is already in those weights)."""
    cmd = list(step.cmd)
    if step.work_dir and osp.isfile(_last_checkpoint(step.work_dir)):
        cmd = [a for a in cmd if not a.startswith('load_from=')]
        if cmd[-1] == '--cfg-options':  # load_from was its only option
            cmd.pop()
        at = cmd.index('--work-dir') + 2
        return cmd[:at] + ['--resume'] + cmd[at:]
    return _materialise(cmd)


def main(argv: 'list[str] | None' = None) -> int:
    parser = argparse.ArgumentParser(description='multi-round CapFilt bootstrapping')
    parser.add_argument('config', help='a config with a `rounds` dict')
    parser.add_argument('--work-dir', help='default: work_dirs/<config name>')
    parser.add_argument('--gpus', type=int, default=1, help='> 1 uses the tools/dist_*.sh')
    parser.add_argument('--dry-run', action='store_true', help='print the plan, run nothing')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if 'rounds' not in cfg:
        raise KeyError(f'{args.config} has no `rounds` dict')
    work = args.work_dir or osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    steps = plan(cfg.rounds.to_dict(), work, args.gpus)
    for n, step in enumerate(steps, 1):
        done = osp.exists(step.output)
        print(f'[{n}/{len(steps)}] {step.name}: {"done, skipped" if done else "to run"}')
        if args.dry_run:
            print('    ' + ' '.join(step.cmd))
            continue
        if done:
            continue
        cmd = command(step)
        if subprocess.run(cmd).returncode != 0:
            print(f'{step.name} failed; fix it and run the same command again to resume')
            return 1
        if step.work_dir:  # a training step is done once its last checkpoint exists
            if not osp.isfile(_last_checkpoint(step.work_dir)):
                print(f'{step.name} wrote no checkpoint in {step.work_dir}')
                return 1
            open(step.output, 'w').close()
    if not args.dry_run:
        print(f'all {len(steps)} steps done; the final model: {steps[-1].work_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
