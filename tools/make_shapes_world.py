"""Generate the shapes world, the embedded synthetic dataset (blip_plugin/datasets/shapes_world.py).

    python tools/make_shapes_world.py                       # data/shapes_world, default sizes
    python tools/make_shapes_world.py --num-train 200 --force
    python tools/make_shapes_world.py --shards 8          # also web pairs as tar shards
    python tools/make_shapes_world.py --num-clips 0       # no video clips under ROOT/video

``--shards N`` writes ``annotations/web_pairs.json`` as N webdataset shards
``ROOT/shards/web_pairs-{00000..N-1}.tar`` (for WebShardPairs; needs ``pip install webdataset``).

``--num-clips N`` writes N test clips (and N / 2 val clips) of moving shapes under ``ROOT/video``
(blip_plugin/datasets/shapes_world_video.py; needs PyAV, the ``video`` extra); by default
``num_test // 2``.

Generation is skipped when ``ROOT/meta.json`` already records the same arguments.
"""

import argparse
import importlib.util
import json
import os.path as osp
import sys
from typing import List, Optional

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if importlib.util.find_spec('blip_plugin') is None:  # run from a checkout, not installed
    sys.path.insert(0, _REPO)

from blip_plugin.datasets.shapes_world import FORMAT_VERSION, make_shapes_world  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', default='data/shapes_world', help='output directory')
    parser.add_argument('--num-train', type=int, default=2000, help='train images')
    parser.add_argument('--num-val', type=int, default=200, help='val images')
    parser.add_argument('--num-test', type=int, default=200, help='test images')
    parser.add_argument('--image-size', type=int, default=64, help='image side in pixels')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--noise-fraction', type=float, default=0.3, help='noisy share of web_pairs.json'
    )
    parser.add_argument('--force', action='store_true', help='regenerate even if up to date')
    parser.add_argument(
        '--shards', type=int, default=0, help='also write the web pairs as N tar shards'
    )
    parser.add_argument(
        '--num-clips',
        type=int,
        default=None,
        help='test clips under ROOT/video (default num_test // 2)',
    )
    return parser.parse_args(argv)


def existing_meta(root: str) -> Optional[dict]:
    """The meta.json of a previous generation, or None."""
    path = osp.join(root, 'meta.json')
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    gen_args = dict(
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        image_size=args.image_size,
        seed=args.seed,
        noise_fraction=args.noise_fraction,
    )
    meta = existing_meta(args.root)
    up_to_date = (
        meta is not None
        and meta.get('args') == gen_args
        and meta.get('format_version') == FORMAT_VERSION
    )
    if up_to_date and not args.force:
        print(f'{args.root} is up to date (meta.json matches); use --force to regenerate')
    else:
        meta = make_shapes_world(args.root, **gen_args)
        counts = meta['counts']
        print(f'shapes world written to {args.root}')
        for key, value in counts.items():
            print(f'  {key}: {value}')
    if args.shards:
        write_web_shards(args.root, args.shards)
    num_clips = args.num_test // 2 if args.num_clips is None else args.num_clips
    if num_clips > 0:
        write_video_clips(args.root, num_clips, args.image_size, args.seed, args.force)
    return meta


def write_video_clips(root: str, num_clips: int, image_size: int, seed: int, force: bool) -> dict:
    """``num_clips`` test and ``num_clips // 2`` val clips under ``ROOT/video``, unless
    ``ROOT/video/meta.json`` records the same arguments."""
    from blip_plugin.datasets.shapes_world_video import existing_video_meta, make_shapes_video

    video_args = dict(
        num_val=max(1, num_clips // 2),
        num_test=num_clips,
        num_frames=16,
        image_size=image_size,
        seed=seed,
    )
    meta = existing_video_meta(root)
    if meta is not None and meta.get('args') == video_args and not force:
        print(f'{root}/video is up to date (video/meta.json matches)')
        return meta
    meta = make_shapes_video(root, **video_args)
    print(f'video clips written to {root}/video: {meta["counts"]["clips"]}')
    return meta


def write_web_shards(root: str, num_shards: int) -> List[str]:
    """``ROOT/annotations/web_pairs.json`` as ``ROOT/shards/web_pairs-%05d.tar``."""
    from blip_plugin.datasets.web_shards import pairs_to_shards

    shards = pairs_to_shards(
        [osp.join(root, 'annotations', 'web_pairs.json')],
        osp.join(root, 'shards', 'web_pairs-%05d.tar'),
        image_root=root,
        num_shards=num_shards,
    )
    print(f'web pairs written as {len(shards)} shards under {osp.join(root, "shards")}')
    return shards


if __name__ == '__main__':
    main()
