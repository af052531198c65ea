"""How well the filter removes planted noise: precision and recall of "removed" against the
truth file of the shapes world (``web_pairs_truth.json``: one entry per web pair, in the same
order, ``{"image", "is_noisy", "noise"}``)."""

import json
from collections import Counter
from typing import Optional

from .filter import is_kept
from .merge import read_shard_records

__all__ = ['filter_precision_recall']


def filter_precision_recall(
    truth_file: str,
    out_dir: str,
    threshold: Optional[float] = None,
) -> dict:
    """Precision / recall of the filter's removal of noisy web texts.

    A web pair counts as removed when none of its web texts is kept. Positives are the pairs
    the truth marks ``is_noisy``; unreadable (skipped) images are left out.

    Args:
        truth_file: the truth list, aligned by index with the web annotations.
        out_dir: a CapFilt output directory (its shards hold the scores).
        threshold: the filter threshold; None takes the one of ``out_dir/summary.json``
            (0.5 if there is none).

    Returns:
        ``precision``, ``recall``, ``f1`` (of removing noise), ``tp``, ``fp``, ``fn``, ``tn``,
        ``threshold``, and ``removed_by_kind`` (the removed share of each truth ``noise``
        kind, clean included).
    """
    if threshold is None:
        try:
            with open(f'{out_dir}/summary.json', encoding='utf-8') as f:
                threshold = float(json.load(f)['threshold'])
        except FileNotFoundError:
            threshold = 0.5
    with open(truth_file, encoding='utf-8') as f:
        truth = json.load(f)
    records = read_shard_records(out_dir)
    if len(truth) != len(records):
        raise ValueError(
            f'{truth_file} has {len(truth)} entries but {out_dir} {len(records)} web pairs'
        )
    tp = fp = fn = tn = 0
    kinds, removed_kinds = Counter(), Counter()
    for n, (t, rec) in enumerate(zip(truth, records)):
        if t['image'] != rec['image']:
            raise ValueError(
                f'{truth_file} entry {n} is {t["image"]} but web pair {n} is {rec["image"]}'
            )
        if 'error' in rec:
            continue
        removed = not any(is_kept(w['caption'], w['score'], threshold) for w in rec['web'])
        noisy = bool(t['is_noisy'])
        tp += removed and noisy
        fp += removed and not noisy
        fn += noisy and not removed
        tn += not noisy and not removed
        kind = t.get('noise', 'noisy' if noisy else 'clean')
        kinds[kind] += 1
        removed_kinds[kind] += removed
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return dict(
        precision=precision,
        recall=recall,
        f1=f1,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        threshold=threshold,
        removed_by_kind={k: removed_kinds[k] / kinds[k] for k in sorted(kinds)},
    )
