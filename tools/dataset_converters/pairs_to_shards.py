"""Write image-text annotation lists (json / jsonl, ``[{"image", "caption"}]``) as webdataset
tar shards for :class:`~blip_plugin.datasets.WebShardPairs`.

    python tools/dataset_converters/pairs_to_shards.py data/pretrain/cc3m.json \
        --image-root data/pretrain --out 'data/cc3m-shards/%05d.tar' --num-shards 332

Each pair becomes ``{key}.{jpg,png,...}`` (the image file's bytes, not re-encoded),
``{key}.json`` (``{"caption": str or [str, ...], "image": the annotation's path}``) and, for a
single caption, ``{key}.txt``. Keys are running numbers (``000000123``); with ``--shuffle`` the
pairs are shuffled first (recommended: a shard then holds a sample of the whole list).
"""

import argparse
import importlib.util
import os.path as osp
import sys
from typing import List, Optional

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if importlib.util.find_spec('blip_plugin') is None:  # run from a checkout, not installed
    sys.path.insert(0, _REPO)

from blip_plugin.datasets.web_shards import pairs_to_shards  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('ann_files', nargs='+', help='json / jsonl annotation lists')
    parser.add_argument('--out', required=True, help="shard name pattern, e.g. 'out/%%05d.tar'")
    parser.add_argument('--image-root', default='', help='joined before relative image paths')
    parser.add_argument('--num-shards', type=int, default=None, help='spread pairs over N shards')
    parser.add_argument('--samples-per-shard', type=int, default=10000)
    parser.add_argument('--shuffle', action='store_true', help='shuffle the pairs first')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> List[str]:
    args = parse_args(argv)
    shards = pairs_to_shards(
        args.ann_files,
        args.out,
        image_root=args.image_root,
        num_shards=args.num_shards,
        samples_per_shard=args.samples_per_shard,
        shuffle=args.shuffle,
        seed=args.seed,
    )
    print(f'wrote {len(shards)} shards: {shards[0]} .. {shards[-1]}')
    return shards


if __name__ == '__main__':
    main()
