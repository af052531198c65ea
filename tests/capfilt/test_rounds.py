"""tools/capfilt_rounds.py: the plan of R bootstrapping rounds, checkpoints handed from step to
step, and resuming a killed run without redoing a finished step (the steps are faked: each
writes the output a real run would, so the driver's logic is what is tested)."""

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        'capfilt_rounds', REPO / 'tools/capfilt_rounds.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rounds(num_rounds: int = 2) -> dict:
    cfg = Config.fromfile(str(REPO / 'configs/toy/blip-tiny_shapes-capfilt-rounds.py'))
    return dict(cfg.rounds.to_dict(), num_rounds=num_rounds)


def arg(cmd: list, flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def option(cmd: list, key: str) -> str:
    return next(a.split('=', 1)[1] for a in cmd if a.startswith(key + '='))


def test_plan_orders_the_rounds_and_feeds_each_round_the_last_bootstrap(tmp_path):
    tool = load_tool()
    steps = tool.plan(rounds(2), str(tmp_path))
    names = [s.name for s in steps]
    assert names == [
        'round0_pretrain', 'round0_captioner', 'round0_filter', 'round0_capfilt',
        'round1_pretrain', 'round1_captioner', 'round1_filter', 'round1_capfilt',
        'round2_pretrain',
    ]  # fmt: skip
    by = {s.name: s for s in steps}
    ann = 'train_dataloader.dataset.ann_file'
    human = str(REPO / 'data/shapes_world/annotations/caption_train.json')
    web = str(REPO / 'data/shapes_world/annotations/web_pairs.json')
    # round 0 pre-trains on human + web, later rounds on the previous round's bootstrap only
    assert option(by['round0_pretrain'].cmd, ann) == f'[{human},{web}]'
    boot0 = str(tmp_path / 'round0_capfilt/bootstrapped.json')
    assert option(by['round1_pretrain'].cmd, ann) == f'[{boot0}]'
    assert (
        option(by['round2_pretrain'].cmd, ann)
        == f'[{tmp_path / "round1_capfilt"}/bootstrapped.json]'
    )
    # captioner and filter start from that round's pre-training; CapFilt always reads the
    # original web pairs with that round's captioner and filter
    pointer = f'@{tmp_path}/round1_pretrain/last_checkpoint'
    assert option(by['round1_captioner'].cmd, 'load_from') == pointer
    assert option(by['round1_filter'].cmd, 'load_from') == pointer
    cap = by['round1_capfilt'].cmd
    assert arg(cap, '--web-ann') == web and arg(cap, '--human-ann') == human
    assert arg(cap, '--captioner-ckpt') == f'@{tmp_path}/round1_captioner/last_checkpoint'
    assert arg(cap, '--out') == str(tmp_path / 'round1_capfilt')
    assert not any('--resume' in s.cmd for s in steps)  # added at run time (below)


def test_plan_uses_the_distributed_launchers_with_gpus(tmp_path):
    steps = load_tool().plan(rounds(1), str(tmp_path), gpus=8)
    assert (
        steps[0].cmd[:2] == ['bash', str(REPO / 'tools/dist_train.sh')] and steps[0].cmd[3] == '8'
    )
    assert steps[3].cmd[1] == str(REPO / 'tools/dist_capfilt.sh')


def test_plan_names_a_missing_key(tmp_path):
    spec = rounds(1)
    del spec['filter']
    with pytest.raises(KeyError, match="no 'filter'"):
        load_tool().plan(spec, str(tmp_path))


def test_materialise_refuses_a_checkpoint_pointer_that_is_not_written(tmp_path):
    with pytest.raises(FileNotFoundError, match='has not finished'):
        load_tool()._materialise([f'load_from=@{tmp_path}/last_checkpoint'])


def test_a_killed_run_resumes_without_redoing_finished_steps(tmp_path, monkeypatch):
    tool = load_tool()
    work = tmp_path / 'work'
    cfg = tmp_path / 'rounds.py'
    cfg.write_text(f'rounds = {rounds(2)!r}\n')
    calls, fail_at = [], {'round1_pretrain'}

    def fake_run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
        if '--out' in cmd:  # tools/capfilt.py: the checkpoints were materialised
            name = Path(arg(cmd, '--out')).name
            for flag in ('--captioner-ckpt', '--filter-ckpt'):
                assert arg(cmd, flag).endswith('.pth') and os.path.isfile(arg(cmd, flag))
            os.makedirs(arg(cmd, '--out'), exist_ok=True)
            Path(arg(cmd, '--out'), 'bootstrapped.json').write_text(json.dumps([]))
        else:
            wd = Path(arg(cmd, '--work-dir'))
            name = wd.name
            loaded = [a for a in cmd if a.startswith('load_from=')]
            assert all(a.endswith('epoch_1.pth') for a in loaded)  # not an @pointer
            wd.mkdir(parents=True, exist_ok=True)
            resumed = (wd / 'last_checkpoint').exists()  # the killed run's checkpoint
            assert ('--resume' in cmd) == resumed and not (resumed and loaded)
            name += ':resumed' if resumed else ''
            if name in fail_at:  # killed after its first checkpoint
                fail_at.discard(name)
                (wd / 'epoch_1.pth').write_bytes(b'weights')
                (wd / 'last_checkpoint').write_text(str(wd / 'epoch_1.pth'))
                calls.append(name + ':killed')
                return subprocess.CompletedProcess(cmd, 1)
            (wd / 'epoch_1.pth').write_bytes(b'weights')
            (wd / 'last_checkpoint').write_text(str(wd / 'epoch_1.pth'))
        calls.append(name)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(tool.subprocess, 'run', fake_run)
    argv = [str(cfg), '--work-dir', str(work)]
    assert tool.main(argv) == 1
    first = ['round0_pretrain', 'round0_captioner', 'round0_filter', 'round0_capfilt']
    fail_at.add('round1_captioner')
    assert calls == first + ['round1_pretrain:killed']
    calls.clear()
    assert tool.main(argv) == 1
    assert calls == ['round1_pretrain:resumed', 'round1_captioner:killed']
    calls.clear()
    assert tool.main(argv) == 0  # nothing finished is run again
    assert calls == [
        'round1_captioner:resumed',
        'round1_filter',
        'round1_capfilt',
        'round2_pretrain',
    ]
    calls.clear()
    assert tool.main(argv) == 0 and calls == []


def test_a_training_step_that_writes_no_checkpoint_fails(tmp_path, monkeypatch):
    tool = load_tool()
    cfg = tmp_path / 'rounds.py'
    cfg.write_text(f'rounds = {rounds(1)!r}\n')
    monkeypatch.setattr(
        tool.subprocess, 'run', lambda cmd, **k: subprocess.CompletedProcess(cmd, 0)
    )
    assert tool.main([str(cfg), '--work-dir', str(tmp_path / 'w')]) == 1
    assert not (tmp_path / 'w/round0_pretrain/DONE').exists()


@pytest.mark.slow
def test_one_real_round_on_a_small_shapes_world(shapes_world_root, tmp_path, monkeypatch):
    """The real steps (train.py, capfilt.py) chained by the driver, 1 epoch each (~5 min)."""
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data/shapes_world').symlink_to(shapes_world_root)
    (tmp_path / 'configs').symlink_to(REPO / 'configs')
    monkeypatch.chdir(tmp_path)
    spec = rounds(1)
    for step, sched in (('pretrain', 1), ('captioner', 1), ('filter', 0)):
        spec[step]['cfg_options'] += [
            'train_cfg.max_epochs=1',
            'default_hooks.checkpoint.interval=1',
            f'param_scheduler.{sched}.end=1',
        ] + (['train_cfg.val_interval=2'] if step != 'pretrain' else [])
    spec['capfilt']['cfg_options'] = ['capfilt.num_workers=0', 'capfilt.threshold=0.0']
    cfg = tmp_path / 'rounds.py'
    cfg.write_text(f'rounds = {spec!r}\n')
    tool = load_tool()
    assert tool.main([str(cfg), '--work-dir', 'work']) == 0
    out = tmp_path / 'work/round0_capfilt'
    boot, summary = (
        json.loads((out / f).read_text()) for f in ('bootstrapped.json', 'summary.json')
    )
    human = json.loads((tmp_path / 'data/shapes_world/annotations/caption_train.json').read_text())
    kept = summary['web_texts']['kept'] + summary['synthetic_captions']['kept']
    assert len(boot) == len(human) + kept and kept > 0.9 * 2 * summary['web_images']  # p > 0
    assert (tmp_path / 'work/round1_pretrain/last_checkpoint').is_file()
