"""Image-text pairs streamed from webdataset tar shards, the format of CC3M / CC12M / LAION-scale
pre-training data (img2dataset writes it): every sample is ``{key}.jpg|png|webp`` beside
``{key}.txt`` (the caption) or ``{key}.json`` (a caption field).

The official BLIP reads pre-training pairs from json lists (data/pretrain_dataset.py, here
:class:`~blip_plugin.datasets.WebPairs`); this source gives the same samples without an index
in memory. ``webdataset`` is an optional dependency: ``pip install "blip-plugin[web]"``.
"""

import glob
import io
import json
import math
import os
import os.path as osp
import random
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import Compose
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from torch.utils.data import IterableDataset, get_worker_info

from ..registry import DATASETS
from .transforms.clean_caption import pre_caption
from .web_pairs import read_annotations

__all__ = ['WebShardPairs', 'expand_shards', 'import_webdataset', 'pairs_to_shards']

IMAGE_EXTS = ('jpg', 'jpeg', 'png', 'webp')


def import_webdataset():
    """The ``webdataset`` module, or an ImportError saying how to install it."""
    try:
        import webdataset
    except ImportError as err:
        raise ImportError(
            'WebShardPairs and tools/dataset_converters/pairs_to_shards.py need webdataset: '
            'pip install "blip-plugin[web]" (or pip install webdataset)'
        ) from err
    return webdataset


def expand_shards(shards: Union[str, Sequence[str]], data_root: str = '') -> List[str]:
    """Shard paths or URLs from brace patterns (``data/cc3m/{00000..00331}.tar``), local glob
    patterns (``data/laion/*.tar``, sorted) or a list of either.

    Relative local paths are joined to ``data_root``; URLs (``http://``, ``pipe:``, ``s3://``)
    are kept as given.
    """
    wds = import_webdataset()
    patterns = [shards] if isinstance(shards, str) else list(shards)
    urls = []
    for pattern in patterns:
        for url in wds.shardlists.expand_urls(pattern):
            if ':' in url:  # a URL or a pipe: kept as given
                urls.append(url)
                continue
            path = url if osp.isabs(url) or not data_root else osp.join(data_root, url)
            if glob.has_magic(path):
                matched = sorted(glob.glob(path))
                if not matched:
                    raise FileNotFoundError(f'WebShardPairs: no shard matches {path!r}')
                urls += matched
            else:
                urls.append(path)
    if not urls:
        raise ValueError(f'WebShardPairs: no shards in {shards!r}')
    return urls


class ShardSampleError(ValueError):
    """A sample of a shard that cannot be used (undecodable image, missing or empty caption)."""


@DATASETS.register_module()
class WebShardPairs(IterableDataset):
    """Image-text pairs streamed from webdataset tar shards.

    Per epoch the shard list is shuffled with ``seed + epoch`` (the same order on every rank)
    and dealt out round-robin to the ``world_size x num_workers`` readers, so each shard is read
    by exactly one (rank, dataloader worker). Each reader shuffles its samples through a buffer
    of ``shuffle_buffer`` pairs. Samples carry ``img`` (decoded HWC BGR uint8, as
    ``LoadImageFromFile`` gives: leave that transform out of the pipeline) and ``gt_caption``
    (cleaned with :func:`pre_caption`), then go through ``pipeline``.

    An iterable has no length, so an epoch is either one pass over the shards
    (``num_samples=None``: for plain iteration; MMEngine's ``EpochBasedTrainLoop`` refuses it)
    or ``num_samples`` pairs over all ranks: each reader yields its share, cycling through its
    shards (reshuffled) when they hold fewer pairs, stopping early when they hold more (the
    ``with_epoch`` convention of webdataset). The dataloader of such a dataset takes
    ``sampler=None``; the epoch reaches the readers through :meth:`set_epoch`, which
    ``DatasetEpochHook`` calls before every training epoch.

    Args:
        shards: a brace pattern (``'cc12m/{00000..01242}.tar'``) or a list of shard paths / URLs.
        data_root: joined before relative shard paths. Defaults to ''.
        num_samples: pairs per epoch over all ranks, or None for one pass over the shards.
            Defaults to None.
        caption_ext: ``'txt'`` (the file is the caption) or ``'json'`` (``caption_key`` holds a
            caption or a list of captions, one sample each). Defaults to 'txt'.
        caption_key: the caption field of ``.json`` files. Defaults to 'caption'.
        max_words: captions are cut to this many words. Defaults to 30 (official).
        shuffle_buffer: pairs held by each reader for shuffling; 0 or 1 keeps the shard order.
            Defaults to 1000.
        shuffle_shards: shuffle the shard list every epoch. Defaults to True.
        seed: base seed of the shard and sample shuffles. Defaults to 0.
        on_error: ``'raise'`` (the error names the shard and key) or ``'skip'`` (each skipped
            sample is logged with a running count). Defaults to 'raise'.
        rank: this process's rank; None reads torch.distributed. Defaults to None.
        world_size: the number of ranks; None reads torch.distributed. Defaults to None.
        pipeline: data transforms (mmcv), as in other datasets. Defaults to ().
        imdecode_backend: ``mmcv.imfrombytes`` backend. Defaults to 'cv2'.
    """

    def __init__(
        self,
        shards: Union[str, Sequence[str]],
        data_root: str = '',
        num_samples: Optional[int] = None,
        caption_ext: str = 'txt',
        caption_key: str = 'caption',
        max_words: int = 30,
        shuffle_buffer: int = 1000,
        shuffle_shards: bool = True,
        seed: int = 0,
        on_error: str = 'raise',
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        pipeline: Sequence = (),
        imdecode_backend: str = 'cv2',
    ) -> None:
        super().__init__()
        if on_error not in ('raise', 'skip'):
            raise ValueError(f"WebShardPairs: on_error must be 'raise' or 'skip', got {on_error!r}")
        if caption_ext not in ('txt', 'json'):
            raise ValueError(
                f"WebShardPairs: caption_ext must be 'txt' or 'json', got {caption_ext!r}"
            )
        if num_samples is not None and num_samples < 1:
            raise ValueError(f'WebShardPairs: num_samples must be >= 1 or None, got {num_samples}')
        for t in pipeline:
            if isinstance(t, dict) and t.get('type') in (
                'LoadImageFromFile',
                'mmcv.LoadImageFromFile',
            ):
                raise ValueError(
                    'WebShardPairs: remove LoadImageFromFile from the pipeline; shard samples '
                    'carry the decoded image as "img"'
                )
        self.urls = expand_shards(shards, data_root)
        self.num_samples = num_samples
        self.caption_ext = caption_ext
        self.caption_key = caption_key
        self.max_words = max_words
        self.shuffle_buffer = shuffle_buffer
        self.shuffle_shards = shuffle_shards
        self.seed = seed
        self.on_error = on_error
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'WebShardPairs: rank {self.rank} not in [0, {self.world_size})')
        self.pipeline = Compose(pipeline)
        self.imdecode_backend = imdecode_backend
        self.epoch = 0
        self.num_skipped = 0
        self.metainfo: dict = {}

    # -- epochs and lengths ---------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Seed the next pass's shard and sample shuffles with ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        """Pairs this rank yields per epoch (``num_samples`` split over the ranks)."""
        if self.num_samples is None:
            raise TypeError(
                'WebShardPairs has no length without num_samples: set num_samples (pairs per '
                'epoch) for EpochBasedTrainLoop, or iterate it directly'
            )
        return self.num_samples // self.world_size

    def full_init(self) -> None:
        """Nothing to index: shards are read as they stream (MMEngine calls this)."""

    # -- which shards this reader gets ----------------------------------------------------
    def _reader(self) -> tuple:
        info = get_worker_info()
        worker, num_workers = (0, 1) if info is None else (info.id, info.num_workers)
        return self.rank * num_workers + worker, self.world_size * num_workers, worker, num_workers

    def reader_shards(self, epoch: int, reader: int, num_readers: int) -> List[str]:
        """The shards reader ``reader`` of ``num_readers`` reads in ``epoch``."""
        urls = list(self.urls)
        if self.shuffle_shards:
            random.Random(self.seed + epoch).shuffle(urls)  # same order on every rank
        return urls[reader::num_readers]

    def _quota(self, worker: int, num_workers: int) -> Optional[int]:
        if self.num_samples is None:
            return None
        per_rank = len(self)
        return per_rank // num_workers + int(worker < per_rank % num_workers)

    # -- reading --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict]:
        epoch = self.epoch
        self.epoch += 1  # persistent workers keep their copy: the next pass is the next epoch
        reader, num_readers, worker, num_workers = self._reader()
        quota = self._quota(worker, num_workers)
        shards = self.reader_shards(epoch, reader, num_readers)
        if quota is not None and quota > 0 and not shards:
            raise ValueError(
                f'WebShardPairs: {len(self.urls)} shards cannot feed {num_readers} readers '
                f'({self.world_size} ranks x {num_workers} workers); write at least that many'
            )
        rng = random.Random(f'{self.seed}-{epoch}-{reader}')  # str seeds are process-stable
        count = 0
        for sample in self._shuffled(self._passes(shards, quota, rng), rng):
            if quota is not None and count >= quota:
                break
            yield self.pipeline(sample)
            count += 1

    def _passes(self, shards: List[str], quota: Optional[int], rng: random.Random) -> Iterator:
        """Decoded samples of ``shards``; with a quota, passes repeat (reshuffled) until met."""
        produced = 0
        while True:
            for sample in self._read(shards):
                produced += 1
                yield sample
            if quota is None or produced == 0:
                return
            shards = list(shards)
            rng.shuffle(shards)

    def _shuffled(self, samples: Iterator[dict], rng: random.Random) -> Iterator[dict]:
        if self.shuffle_buffer <= 1:
            yield from samples
            return
        buffer: list = []
        for sample in samples:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(sample)
                continue
            i = rng.randrange(len(buffer))
            buffer[i], sample = sample, buffer[i]
            yield sample
        rng.shuffle(buffer)
        yield from buffer

    def _read(self, shards: List[str]) -> Iterator[dict]:
        """Raw tar samples -> ``dict(img, gt_caption, ...)``, one per caption."""
        wds = import_webdataset()
        tar = wds.tariterators
        streams = tar.url_opener(dict(url=u) for u in shards)
        for raw in tar.group_by_keys(tar.tar_file_expander(streams)):
            shard, key = raw.get('__url__', '?'), raw.get('__key__', '?')
            try:
                yield from self._decode(raw, shard, key)
            except ShardSampleError as err:
                if self.on_error == 'raise':
                    raise
                self.num_skipped += 1
                print_log(
                    f'WebShardPairs: skipped {err} ({self.num_skipped} skipped so far by rank '
                    f'{self.rank}, this worker)',
                    logger='current',
                    level=30,  # logging.WARNING
                )

    def _decode(self, raw: dict, shard: str, key: str) -> Iterator[dict]:
        where = f'shard {shard} key {key!r}'
        ext = next((e for e in IMAGE_EXTS if e in raw), None)
        if ext is None:
            raise ShardSampleError(f'{where}: no image ({"/".join(IMAGE_EXTS)}); has {sorted(raw)}')
        img = self._image(raw[ext], where)
        for caption in self._captions(raw, where):
            yield dict(
                img=img,
                img_shape=img.shape[:2],
                ori_shape=img.shape[:2],
                gt_caption=caption,
                shard=shard,
                key=key,
            )

    def _image(self, data: bytes, where: str) -> np.ndarray:
        import mmcv

        try:
            img = mmcv.imfrombytes(data, flag='color', backend=self.imdecode_backend)
        except Exception as err:  # pillow raises, cv2 returns None
            raise ShardSampleError(f'{where}: undecodable image ({err})') from err
        if img is None or img.size == 0:
            raise ShardSampleError(f'{where}: undecodable image ({len(data)} bytes)')
        return img  # (H, W, 3) BGR uint8

    def _captions(self, raw: dict, where: str) -> List[str]:
        ext = self.caption_ext
        if ext not in raw:
            raise ShardSampleError(f'{where}: no .{ext} caption; has {sorted(raw)}')
        if ext == 'txt':
            captions = [raw['txt'].decode('utf-8')]
        else:
            try:
                captions = json.load(io.BytesIO(raw['json']))[self.caption_key]
            except (ValueError, KeyError, TypeError) as err:
                raise ShardSampleError(
                    f'{where}: .json has no {self.caption_key!r} field ({err!r})'
                ) from err
            captions = [captions] if isinstance(captions, str) else list(captions)
        cleaned = [pre_caption(c, self.max_words) for c in captions]
        if not cleaned or not all(cleaned):
            raise ShardSampleError(f'{where}: empty caption {captions!r}')
        return cleaned

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}({len(self.urls)} shards, num_samples={self.num_samples}, '
            f'rank {self.rank}/{self.world_size}, on_error={self.on_error!r})'
        )


_WRITE_EXTS = {'.jpg': 'jpg', '.jpeg': 'jpg', '.png': 'png', '.webp': 'webp'}


def pairs_to_shards(
    ann_files: List[str],
    out_pattern: str,
    image_root: str = '',
    num_shards: Optional[int] = None,
    samples_per_shard: int = 10000,
    shuffle: bool = False,
    seed: int = 0,
) -> List[str]:
    """Write the pairs of ``ann_files`` to shards named ``out_pattern % i``; return their paths.

    Each pair becomes ``{key}.{jpg,png,webp}`` (the image file's bytes, not re-encoded),
    ``{key}.json`` (``{"caption": str or [str, ...], "image": the annotation's path}``) and, for
    a single caption, ``{key}.txt``; keys are running numbers. ``num_shards`` (if given) sets
    ``samples_per_shard`` to spread the pairs evenly; ``shuffle`` mixes the lists first.
    CLI: tools/dataset_converters/pairs_to_shards.py.
    """
    wds = import_webdataset()
    anns = []
    for ann_file in ann_files:
        for n, ann in enumerate(read_annotations(ann_file)):
            if 'image' not in ann or 'caption' not in ann:
                raise KeyError(f'{ann_file}: annotation {n} needs "image" and "caption"')
            anns.append(ann)
    if not anns:
        raise ValueError(f'no annotations in {ann_files}')
    if shuffle:
        random.Random(seed).shuffle(anns)
    if num_shards is not None:
        samples_per_shard = math.ceil(len(anns) / num_shards)
    out_dir = osp.dirname(out_pattern)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    written = []
    with wds.ShardWriter(out_pattern, maxcount=samples_per_shard, verbose=0) as sink:
        for i, ann in enumerate(anns):
            path = ann['image'] if osp.isabs(ann['image']) else osp.join(image_root, ann['image'])
            ext = _WRITE_EXTS.get(osp.splitext(path)[1].lower())
            if ext is None:
                raise ValueError(f'{path}: image extension not in {sorted(_WRITE_EXTS)}')
            with open(path, 'rb') as f:
                data = f.read()
            sample = {'__key__': f'{i:09d}', ext: data}
            sample['json'] = dict(caption=ann['caption'], image=ann['image'])
            if isinstance(ann['caption'], str):
                sample['txt'] = ann['caption']
            sink.write(sample)
            if sink.fname not in written:
                written.append(sink.fname)
    return written
