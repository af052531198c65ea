"""Merge CapFilt shards into the bootstrapped pre-training list (paper section 3.4, Figure 3):
human-annotated pairs + the web texts the filter keeps + the synthetic captions it keeps, in
the official pre-training format ``[{"image": path, "caption": str}]``.

The threshold is applied here to the scores the shards hold, so the output can be re-made
with another threshold without captioning again (``tools/capfilt.py ... --merge-only``).
"""

import json
import os
from typing import Optional

from mmengine.logging import MMLogger

from ..datasets.web_pairs import read_annotations
from ..engine.checkpoint import atomic_write_text
from .filter import is_kept

__all__ = ['shard_path', 'read_shard_records', 'merge_shards', 'OUTPUT_FILE', 'SUMMARY_FILE']

OUTPUT_FILE = 'bootstrapped.json'
SUMMARY_FILE = 'summary.json'


def shard_path(out_dir: str, shard: int) -> str:
    return os.path.join(out_dir, 'shards', f'shard_{shard:05d}.jsonl')


def read_shard_records(out_dir: str, num_shards: Optional[int] = None) -> list:
    """Every record of ``out_dir/shards`` in index order, checked to cover 0..N-1 once.

    Args:
        out_dir: the CapFilt output directory.
        num_shards: how many shards the job has; None takes the shard files found (their
            numbers must still run from 0 without a gap).
    """
    shard_dir = os.path.join(out_dir, 'shards')
    if num_shards is None:
        found = sorted(f for f in os.listdir(shard_dir) if f.startswith('shard_'))
        num_shards = len(found)
    missing = [s for s in range(num_shards) if not os.path.isfile(shard_path(out_dir, s))]
    if missing:
        raise FileNotFoundError(
            f'{shard_dir}: {len(missing)} of {num_shards} shards are not done yet '
            f'(first: {os.path.basename(shard_path(out_dir, missing[0]))}); re-run CapFilt'
        )
    records = []
    for s in range(num_shards):
        with open(shard_path(out_dir, s), encoding='utf-8') as f:
            records += [json.loads(line) for line in f if line.strip()]
    indices = [r['index'] for r in records]
    if indices != list(range(len(records))):
        raise ValueError(f'{shard_dir}: shard records do not cover indices 0..N-1 exactly once')
    return records


def _human_pairs(human_ann: Optional[str]) -> list:
    if not human_ann:
        return []
    pairs = []
    for n, ann in enumerate(read_annotations(human_ann)):
        if 'image' not in ann or 'caption' not in ann:
            raise KeyError(f'{human_ann}: annotation {n} needs "image" and "caption"')
        pairs.append(dict(image=ann['image'], caption=ann['caption']))
    return pairs


def merge_shards(
    out_dir: str,
    num_shards: Optional[int] = None,
    threshold: float = 0.5,
    filter_synthetic: bool = True,
    human_ann: Optional[str] = None,
    logger: Optional[MMLogger] = None,
) -> dict:
    """Write ``out_dir/bootstrapped.json`` and return the summary (counts per source).

    Args:
        out_dir: the CapFilt output directory.
        num_shards: shards the job has (None: those found).
        threshold: keep a text when its match probability exceeds this. Defaults to 0.5.
        filter_synthetic: False keeps every non-empty synthetic caption. Defaults to True.
        human_ann: human-annotated pairs put first. Defaults to None.
        logger: defaults to the current MMLogger.
    """
    logger = logger or MMLogger.get_current_instance()
    records = read_shard_records(out_dir, num_shards)
    human = _human_pairs(human_ann)
    out = list(human)
    web = dict(total=0, kept=0, removed=0)
    syn = dict(total=0, kept=0, removed=0)
    unreadable = 0
    for rec in records:
        if 'error' in rec:
            unreadable += 1
            continue
        for counts, texts, filtered in (
            (web, rec['web'], True),
            (syn, rec['synthetic'], filter_synthetic),
        ):
            for t in texts:
                keep = is_kept(t['caption'], t['score'], threshold if filtered else -1.0)
                counts['total'] += 1
                counts['kept' if keep else 'removed'] += 1
                if keep:
                    out.append(dict(image=rec['image'], caption=t['caption']))
    atomic_write_text(json.dumps(out, ensure_ascii=False), os.path.join(out_dir, OUTPUT_FILE))
    summary = dict(
        output=os.path.join(out_dir, OUTPUT_FILE),
        threshold=threshold,
        filter_synthetic=filter_synthetic,
        web_images=len(records),
        unreadable_images=unreadable,
        human=dict(file=human_ann, pairs=len(human)),
        web_texts=web,
        synthetic_captions=syn,
        output_pairs=len(out),
    )
    logger.info(
        f'capfilt: {len(records)} web images ({unreadable} unreadable, skipped); web texts '
        f'kept {web["kept"]} / removed {web["removed"]}; synthetic captions kept {syn["kept"]} '
        f'/ removed {syn["removed"]}; human pairs {len(human)}; wrote {len(out)} pairs to '
        f'{summary["output"]}'
    )
    atomic_write_text(json.dumps(summary, indent=1), os.path.join(out_dir, SUMMARY_FILE))
    return summary
