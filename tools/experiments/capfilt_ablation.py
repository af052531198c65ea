"""CapFilt ablation on the shapes world: BLIP paper Tables 1 and 2 in miniature.

Sequential and resumable (every step is skipped when its output exists; the numbers are kept
in ``WORK/results.json``):

1. ``WORK/human.json``: the first ``--human-images`` train images of ``caption_train.json``
   (all their captions), in the pre-training format.
2. Pre-train the toy BLIP from scratch on human + web pairs (arm ``noisy``).
3. From that checkpoint fine-tune, on human.json, the captioner (``BlipCaption``) and the
   filter (``BlipRetrieval``).
4. CapFilt over ``web_pairs.json`` with nucleus sampling and with beam search
   (``tools/capfilt.py``; the filter's precision / recall on the planted noise from
   ``web_pairs_truth.json``), and over held-out val pairs (true + mismatched captions) to
   pick a second threshold that does not look at the web truth.
5. Arm data sets from the shard scores; for every arm pre-train from scratch (same epochs and
   seed), then zero-shot retrieval, retrieval fine-tuned on human.json and captioning
   fine-tuned on human.json, all evaluated on the test split.

Usage::

    python tools/experiments/capfilt_ablation.py --work-dir work_dirs/capfilt_ablation

Prints a markdown table at the end (also ``WORK/results.md``).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from typing import Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from blip_plugin.capfilt import filter_precision_recall  # noqa: E402
from blip_plugin.capfilt.filter import is_kept  # noqa: E402
from blip_plugin.capfilt.merge import read_shard_records  # noqa: E402

DATA = 'data/shapes_world'
ANN = f'{DATA}/annotations'
PRETRAIN_CFG = 'configs/toy/blip-tiny_1xb32_shapes-pretrain.py'
RETRIEVAL_CFG = 'configs/toy/blip-tiny_1xb32_shapes-retrieval.py'
CAPTION_CFG = 'configs/toy/blip-tiny_1xb32_shapes-caption.py'
CAPFILT_CFG = 'configs/toy/blip-tiny_shapes-capfilt.py'
NO_WORKERS = [
    f'{loader}.{key}'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for key in ('num_workers=0', 'persistent_workers=False')
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--work-dir', required=True)
    p.add_argument('--human-images', type=int, default=500)
    p.add_argument('--pretrain-epochs', type=int, default=10)
    p.add_argument('--captioner-epochs', type=int, default=5)
    p.add_argument('--filter-epochs', type=int, default=3)
    p.add_argument('--retrieval-epochs', type=int, default=2)
    p.add_argument('--caption-epochs', type=int, default=4)
    p.add_argument('--threshold', type=float, default=0.5, help="the paper's rule")
    p.add_argument(
        '--second-threshold',
        default='calib',
        help="'calib' (chosen on held-out human pairs), a number, or 'none'",
    )
    p.add_argument(
        '--no-caption-arms',
        nargs='*',
        default=[],
        help='arms whose captioning fine-tune is skipped (time)',
    )
    p.add_argument('--skip-caption', action='store_true', help='no captioning fine-tunes')
    p.add_argument('--report-only', action='store_true', help='print the table of results.json')
    return p.parse_args()


def log(msg: str) -> None:
    print(f'[{time.strftime("%H:%M:%S")}] {msg}', flush=True)


def run(cmd: list, log_file: str) -> float:
    """Run a tool with one thread; its output goes to ``log_file``. Returns seconds."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    start = time.time()
    log(' '.join(cmd))
    with open(log_file, 'w') as f:
        rc = subprocess.call([sys.executable] + cmd, cwd=ROOT, env=env, stdout=f, stderr=f)
    if rc:
        raise RuntimeError(f'{cmd[0]} failed (exit {rc}); see {log_file}')
    return time.time() - start


def write_json(obj, path: str) -> None:
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        json.dump(obj, f, ensure_ascii=False)
    os.replace(path + '.tmp', path)


def last_metrics(log_file: str) -> dict:
    """``key: value`` pairs of the last ``Epoch(test)`` line of a tool's output."""
    lines = [ln for ln in open(log_file, encoding='utf-8') if 'Epoch(test)' in ln]
    if not lines:
        raise RuntimeError(f'{log_file}: no Epoch(test) line')
    return {k: float(v) for k, v in re.findall(r'([\w/-]+): (-?[\d.]+)', lines[-1])}


class Ablation:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = os.path.abspath(args.work_dir)
        os.makedirs(self.work, exist_ok=True)
        self.results_file = os.path.join(self.work, 'results.json')
        self.results = (
            json.load(open(self.results_file)) if os.path.isfile(self.results_file) else {}
        )

    def save(self) -> None:
        write_json(self.results, self.results_file)

    def path(self, *parts: str) -> str:
        return os.path.join(self.work, *parts)

    # ------------------------------------------------------------------ data
    def human(self) -> str:
        out = self.path('human.json')
        if not os.path.isfile(out):
            anns = json.load(open(os.path.join(ROOT, ANN, 'caption_train.json')))
            images: list = []
            for a in anns:
                if a['image'] not in images:
                    images.append(a['image'])
            keep = set(images[: self.args.human_images])
            human = [a for a in anns if a['image'] in keep]
            write_json(human, out)
        return out

    def calib(self) -> str:
        """Held-out val pairs: each image's first caption (true) and the next image's
        (mismatched, which may still fit partly, as web noise does)."""
        out = self.path('calib.json')
        if not os.path.isfile(out):
            val = json.load(open(os.path.join(ROOT, ANN, 'caption_val.json')))
            pairs = [dict(image=a['image'], caption=a['caption'][0]) for a in val]
            pairs += [
                dict(image=a['image'], caption=val[(i + 1) % len(val)]['caption'][0])
                for i, a in enumerate(val)
            ]
            write_json(pairs, out)
        return out

    # ------------------------------------------------------------------ training
    def train(self, name: str, cfg: str, epochs: int, opts: list) -> str:
        wd = self.path(name)
        ckpt = os.path.join(wd, f'epoch_{epochs}.pth')
        if os.path.isfile(ckpt):
            return ckpt
        os.makedirs(wd, exist_ok=True)
        opts = opts + [
            f'train_cfg.max_epochs={epochs}',
            f'default_hooks.checkpoint.interval={epochs}',
            f'param_scheduler.1.end={epochs}'
            if cfg != RETRIEVAL_CFG
            else f'param_scheduler.0.end={epochs}',
        ]
        secs = run(
            ['tools/train.py', cfg, '--work-dir', wd, '--cfg-options']
            + (NO_WORKERS[:2] if cfg == PRETRAIN_CFG else NO_WORKERS)  # no val / test there
            + opts,
            os.path.join(wd, 'train.out'),
        )
        self.results.setdefault('seconds', {})[name] = round(secs)
        self.save()
        return ckpt

    def pretrain(self, arm: str, ann: str) -> str:
        return self.train(
            f'pretrain_{arm}',
            PRETRAIN_CFG,
            self.args.pretrain_epochs,
            [f'train_dataloader.dataset.ann_file=[{ann}]'],
        )

    def finetune_opts(self, load_from: str, human: str, epochs: int) -> list:
        return [
            f'load_from={load_from}',
            f'train_dataloader.dataset.ann_file={human}',
            f'train_cfg.val_interval={epochs + 1}',  # test split only, after training
        ]

    def test(self, name: str, cfg: str, ckpt: str) -> dict:
        wd = self.path(name)
        os.makedirs(wd, exist_ok=True)
        out = os.path.join(wd, 'test.out')
        secs = run(
            ['tools/test.py', cfg, ckpt, '--work-dir', wd, '--cfg-options'] + NO_WORKERS, out
        )
        self.results.setdefault('seconds', {})[name + '_test'] = round(secs)
        return last_metrics(out)

    # ------------------------------------------------------------------ capfilt
    def capfilt(self, name: str, ann: str, captioner: str, filt: str, opts: list) -> str:
        out = self.path(name)
        if os.path.isfile(os.path.join(out, 'summary.json')):
            return out
        cmd = ['tools/capfilt.py', CAPFILT_CFG, '--web-ann', ann, '--out', out]
        cmd += ['--captioner-ckpt', captioner, '--filter-ckpt', filt, '--device', 'cpu']
        if ann.endswith('web_pairs.json'):
            cmd += ['--truth', os.path.join(ROOT, ANN, 'web_pairs_truth.json')]
        cmd += ['--cfg-options', 'capfilt.num_workers=0'] + opts
        os.makedirs(out, exist_ok=True)
        secs = run(cmd, os.path.join(self.work, f'{name}.out'))
        self.results.setdefault('seconds', {})[name] = round(secs)
        self.save()
        return out

    def calibrated_threshold(self, out_dir: str) -> float:
        """The threshold with the best balanced accuracy on true vs. mismatched val pairs."""
        recs = read_shard_records(out_dir)
        half = len(recs) // 2
        scores = [r['web'][0]['score'] for r in recs]
        best = (0.0, 0.5)
        for t in [i / 100 for i in range(1, 100)]:
            tpr = sum(s > t for s in scores[:half]) / half
            tnr = sum(s <= t for s in scores[half:]) / (len(recs) - half)
            best = max(best, ((tpr + tnr) / 2, t))
        self.results['calibration'] = dict(threshold=best[1], balanced_accuracy=best[0])
        self.save()
        return best[1]

    def filter_pr(self, key: str, out_dir: str, threshold: float) -> None:
        truth = os.path.join(ROOT, ANN, 'web_pairs_truth.json')
        self.results.setdefault('filter', {})[key] = filter_precision_recall(
            truth, out_dir, threshold
        )
        self.save()

    def arm_data(
        self,
        name: str,
        human: str,
        web: Optional[str],
        syn: Optional[str],
        threshold: Optional[float],
    ) -> str:
        """human + web texts (+ synthetic captions); ``threshold`` None keeps everything."""
        out = self.path('data', f'{name}.json')
        os.makedirs(os.path.dirname(out), exist_ok=True)
        pairs = [dict(image=a['image'], caption=a['caption']) for a in json.load(open(human))]
        t = -1.0 if threshold is None else threshold
        for source, key in ((web, 'web'), (syn, 'synthetic')):
            if source is None:
                continue
            for rec in read_shard_records(source):
                pairs += [
                    dict(image=rec['image'], caption=x['caption'])
                    for x in rec.get(key, [])
                    if is_kept(x['caption'], x['score'], t)
                ]
        write_json(pairs, out)
        self.results.setdefault('pairs', {})[name] = len(pairs)
        self.save()
        return out

    # ------------------------------------------------------------------ main
    def evaluate(self, arm: str, ckpt: str, human: str, caption: bool) -> None:
        res = self.results.setdefault('arms', {}).setdefault(arm, {})
        a = self.args
        if 'zs' not in res:
            res['zs'] = self.test(f'zs_{arm}', RETRIEVAL_CFG, ckpt)
            self.save()
        if 'retrieval' not in res:
            ret = self.train(
                f'ret_{arm}',
                RETRIEVAL_CFG,
                a.retrieval_epochs,
                self.finetune_opts(ckpt, human, a.retrieval_epochs),
            )
            res['retrieval'] = self.test(f'ret_{arm}', RETRIEVAL_CFG, ret)
            self.save()
        if caption and 'caption' not in res:
            cap = self.train(
                f'cap_{arm}',
                CAPTION_CFG,
                a.caption_epochs,
                self.finetune_opts(ckpt, human, a.caption_epochs),
            )
            res['caption'] = self.test(f'cap_{arm}', CAPTION_CFG, cap)
            self.save()

    def main(self) -> None:
        a = self.args
        human = self.human()
        web = os.path.join(ROOT, ANN, 'web_pairs.json')
        noisy_data = self.arm_data('noisy', human, None, None, None)
        # human + every web text: written directly (no shards exist yet)
        pairs = json.load(open(noisy_data)) + [
            dict(image=x['image'], caption=x['caption']) for x in json.load(open(web))
        ]
        write_json(pairs, noisy_data)
        self.results['pairs']['noisy'] = len(pairs)
        noisy = self.pretrain('noisy', noisy_data)

        captioner = self.train(
            'captioner',
            CAPTION_CFG,
            a.captioner_epochs,
            self.finetune_opts(noisy, human, a.captioner_epochs),
        )
        filt = self.train(
            'filter',
            RETRIEVAL_CFG,
            a.filter_epochs,
            self.finetune_opts(noisy, human, a.filter_epochs),
        )
        nucleus = self.capfilt('capfilt_nucleus', web, captioner, filt, [])
        beam = self.capfilt('capfilt_beam', web, captioner, filt, ['capfilt.strategy=beam'])
        thresholds = [a.threshold]
        if a.second_threshold == 'calib':
            calib = self.capfilt('capfilt_calib', self.calib(), captioner, filt, [])
            thresholds.append(self.calibrated_threshold(calib))
        elif a.second_threshold != 'none':
            thresholds.append(float(a.second_threshold))
        for t in thresholds:
            self.filter_pr(f'{t:g}', nucleus, t)

        # the paper's threshold first (retrieval for every arm, then captioning), then the
        # filter arms at the second threshold
        groups = [[('noisy', noisy_data)], []]
        groups[0].append(('+captioner', self.arm_data('+captioner', human, nucleus, nucleus, None)))
        for i, t in enumerate(thresholds):
            tag = '' if i == 0 else f'@{t:g}'
            groups[min(i, 1)] += [
                (f'+filter{tag}', self.arm_data(f'+filter{tag}', human, nucleus, None, t)),
                (f'+both{tag}', self.arm_data(f'+both{tag}', human, nucleus, nucleus, t)),
            ]
            if i == 0:  # nucleus vs. beam (Table 2) at the paper's rule only
                groups[0].append(
                    ('+both(beam)', self.arm_data('+both(beam)', human, beam, beam, t))
                )
        for arms in groups:
            ckpts = {}
            for arm, data in arms:
                ckpts[arm] = self.pretrain(arm, data) if arm != 'noisy' else noisy
                self.evaluate(arm, ckpts[arm], human, caption=False)
                print(self.table(), flush=True)
            for arm, _ in arms:
                if not a.skip_caption and arm not in a.no_caption_arms:
                    self.evaluate(arm, ckpts[arm], human, caption=True)
                    print(self.table(), flush=True)
        table = self.table()
        with open(self.path('results.md'), 'w') as f:
            f.write(table + '\n')
        print(table)

    def table(self) -> str:
        rows = [
            '| arm | #pairs | ZS R@1 i2t / t2i | ZS mean recall | R@1 i2t | R@1 t2i | mean recall '
            '| CIDEr |',
            '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ]
        for arm, res in self.results.get('arms', {}).items():
            zs, ret, cap = res.get('zs', {}), res.get('retrieval', {}), res.get('caption', {})

            def g(d: dict, k: str) -> str:
                return f'{d[k]:.1f}' if k in d else '-'

            cider = '-'
            if 'coco-caption/CIDEr' in cap:  # x100, as the paper reports it
                cider = f'{100 * cap["coco-caption/CIDEr"]:.1f}'
            rows.append(
                f'| {arm} | {self.results["pairs"][arm]:,} | '
                f'{g(zs, "retrieval/txt_r1")} / {g(zs, "retrieval/img_r1")} | '
                f'{g(zs, "retrieval/r_mean")} | '
                f'{g(ret, "retrieval/txt_r1")} | {g(ret, "retrieval/img_r1")} | '
                f'{g(ret, "retrieval/r_mean")} | {cider} |'
            )
        for key, pr in self.results.get('filter', {}).items():
            kinds = ', '.join(f'{k} {v:.1%}' for k, v in pr['removed_by_kind'].items())
            rows.append(
                f'\nfilter @ {key}: precision {pr["precision"]:.3f}, recall {pr["recall"]:.3f}'
                f' (removed: {kinds})'
            )
        return '\n'.join(rows)


if __name__ == '__main__':
    args = parse_args()
    ablation = Ablation(args)
    if args.report_only:
        print(ablation.table())
    else:
        ablation.main()
