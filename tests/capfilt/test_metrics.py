"""Precision / recall of removing planted noisy web texts, from hand-made shards."""

import json
import os

import pytest

from blip_plugin.capfilt import filter_precision_recall, shard_path


def write(out: str, truth_noisy: list, scores: list) -> str:
    """Shards of 2 records from web scores; a truth file marking ``truth_noisy``."""
    os.makedirs(os.path.join(out, 'shards'))
    records = [
        dict(index=n, image=f'{n}.png', web=[dict(caption='a red square', score=s)], synthetic=[])
        for n, s in enumerate(scores)
    ]
    records[-1] = dict(index=len(scores) - 1, image=f'{len(scores) - 1}.png', error='broken')
    for s in range(0, len(records), 2):
        with open(shard_path(out, s // 2), 'w') as f:
            f.write(''.join(json.dumps(r) + '\n' for r in records[s : s + 2]))
    truth = [
        dict(image=f'{n}.png', is_noisy=noisy, noise='mismatched' if noisy else 'clean')
        for n, noisy in enumerate(truth_noisy)
    ]
    path = os.path.join(out, 'truth.json')
    with open(path, 'w') as f:
        json.dump(truth, f)
    return path


def test_precision_recall_of_noise_removal(tmp_path):
    out = str(tmp_path / 'out')
    noisy = [True, True, True, False, False, False, True]
    scores = [0.1, 0.2, 0.9, 0.3, 0.8, 0.7, 0.0]  # the last image is unreadable: left out
    truth = write(out, noisy, scores)
    pr = filter_precision_recall(truth, out)  # threshold 0.5: removed 0, 1, 3
    assert (pr['tp'], pr['fp'], pr['fn'], pr['tn']) == (2, 1, 1, 2)
    assert pr['precision'] == pytest.approx(2 / 3) and pr['recall'] == pytest.approx(2 / 3)
    assert pr['removed_by_kind'] == {
        'clean': pytest.approx(1 / 3),
        'mismatched': pytest.approx(2 / 3),
    }
    pr = filter_precision_recall(truth, out, threshold=0.95)  # everything removed
    assert pr['recall'] == 1.0 and pr['precision'] == pytest.approx(3 / 6)


def test_misaligned_truth_is_named(tmp_path):
    out = str(tmp_path / 'out')
    truth = write(out, [True, False, True], [0.1, 0.9, 0.5])
    with open(truth) as f:
        entries = json.load(f)
    entries[1]['image'] = 'other.png'
    with open(truth, 'w') as f:
        json.dump(entries, f)
    with pytest.raises(ValueError, match='entry 1 is other.png but web pair 1 is 1.png'):
        filter_precision_recall(truth, out)
    with open(truth, 'w') as f:
        json.dump(entries[:2], f)
    with pytest.raises(ValueError, match='has 2 entries but .* 3 web pairs'):
        filter_precision_recall(truth, out)
