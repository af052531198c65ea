"""The sharded, resumable CapFilt job (paper section 3.4).

The web pairs are cut into fixed shards by index (``shard_size`` pairs each); shard ``s`` goes
to rank ``s % world_size``. A rank captions and scores its shards in batches (a DataLoader's
workers load the images) and writes each finished shard atomically to
``<out_dir>/shards/shard_00012.jsonl``: one line per web image,

    {"index": 17, "image": "<as in the annotation>",
     "web": [{"caption": "...", "score": 0.93}],
     "synthetic": [{"caption": "...", "score": 0.41}, ...]}

or ``{"index", "image", "error"}`` for an unreadable image skipped on request. A re-run skips
shards whose file exists, and sampling is seeded per image, so an interrupted and resumed job
writes what an uninterrupted one writes. When every shard is done, rank 0 merges them
(:func:`blip_plugin.capfilt.merge.merge_shards`).
"""

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Optional

import torch
from mmengine.dist import all_gather_object, barrier, get_dist_info
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader, Dataset

from ..apis.pipeline import load_image
from ..engine.checkpoint import atomic_write_text
from .captioner import Captioner
from .filter import CapFilter
from .merge import merge_shards, shard_path
from .source import PairSource

__all__ = ['CapFiltSettings', 'CapFiltImageError', 'run_capfilt', 'process_batch']

META_FILE = 'capfilt_meta.json'


class CapFiltImageError(RuntimeError):
    """An image that cannot be read (the message names the file and the annotation)."""


@dataclass
class CapFiltSettings:
    """The ``capfilt`` dict of a CapFilt config.

    Args:
        num_captions: synthetic captions per image. Defaults to 1 (paper).
        strategy: 'sample' (nucleus), 'beam' or 'greedy'. Defaults to 'sample' (paper).
        top_p: nucleus mass. Defaults to 0.9 (paper).
        num_beams: beams for 'beam'. Defaults to 3.
        max_length, min_length: caption lengths, prompt tokens included. Defaults to 30, 10
            (official ``generate``).
        generation: other :func:`~blip_plugin.models.generation.generate` kwargs.
        threshold: keep a text when its ITM match probability exceeds this. Defaults to 0.5
            (the paper: noisy if ITM predicts unmatched).
        filter_synthetic: filter the synthetic captions too (paper); False keeps them all.
            Defaults to True.
        shard_size: web pairs per shard. Defaults to 1000.
        batch_size: images per batch. Defaults to 32.
        num_workers: DataLoader workers loading images. Defaults to 4.
        seed: base seed of the per-image samplers. Defaults to 0.
        skip_unreadable: skip (and log and count) unreadable images instead of stopping.
            Defaults to False.
        image_root: joined before relative image paths of the web annotations. Defaults to ''.
    """

    num_captions: int = 1
    strategy: str = 'sample'
    top_p: float = 0.9
    num_beams: int = 3
    max_length: int = 30
    min_length: int = 10
    generation: dict = field(default_factory=dict)
    threshold: float = 0.5
    filter_synthetic: bool = True
    shard_size: int = 1000
    batch_size: int = 32
    num_workers: int = 4
    seed: int = 0
    skip_unreadable: bool = False
    image_root: str = ''

    @classmethod
    def from_cfg(cls, cfg: Optional[dict]) -> 'CapFiltSettings':
        cfg = dict(cfg or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise KeyError(f'unknown capfilt setting(s) {unknown}; known: {sorted(known)}')
        settings = cls(**cfg)
        for name in ('shard_size', 'batch_size'):
            if getattr(settings, name) < 1:
                raise ValueError(f'capfilt.{name} must be >= 1, got {getattr(settings, name)}')
        return settings

    def build_captioner(self, model: torch.nn.Module) -> Captioner:
        return Captioner(
            model,
            num_captions=self.num_captions,
            strategy=self.strategy,
            top_p=self.top_p,
            num_beams=self.num_beams,
            max_length=self.max_length,
            min_length=self.min_length,
            seed=self.seed,
            **self.generation,
        )

    def output_key(self) -> dict:
        """The settings a shard's content depends on (the threshold is applied at merge)."""
        keep = ('num_captions', 'strategy', 'top_p', 'num_beams', 'max_length', 'min_length')
        return {k: v for k, v in asdict(self).items() if k in keep + ('generation', 'seed')}


class _ShardBatches(Dataset):
    """Item k = batch k of the pending shards: its pairs' metadata and loaded images. Batches
    never cross a shard boundary, so a shard is complete at its last batch."""

    def __init__(self, source: PairSource, batches: list, pipeline: Callable) -> None:
        self.source, self.batches, self.pipeline = source, batches, pipeline

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> dict:
        shard, start, stop = self.batches[k]
        pairs, images, errors = [], [], []
        for pair in self.source.read(start, stop):
            meta = dict(index=pair.index, key=pair.key, captions=pair.captions, where=pair.where)
            try:
                packed = self.pipeline(load_image(pair.image, pair.index))
            except Exception as e:  # reported (or skipped) by the main process
                name = pair.image if isinstance(pair.image, str) else pair.key
                meta['error'] = f'{pair.where}: cannot read image {name}: {type(e).__name__}: {e}'
                errors.append(meta)
                continue
            pairs.append(meta)
            images.append(packed['inputs'])
        if len(pairs) + len(errors) != stop - start:
            raise RuntimeError(
                f'{self.source.name}: asked for pairs {start}..{stop - 1}, got '
                f'{len(pairs) + len(errors)} (did the source change since it was counted?)'
            )
        return dict(shard=shard, start=start, stop=stop, pairs=pairs, images=images, errors=errors)


def _shards(n_pairs: int, shard_size: int) -> list:
    """``(shard, start, stop)`` of every shard: fixed index ranges of ``shard_size`` pairs."""
    num = math.ceil(n_pairs / shard_size)
    return [(s, s * shard_size, min((s + 1) * shard_size, n_pairs)) for s in range(num)]


def _check_meta(out_dir: str, meta: dict) -> None:
    """Refuse to mix shards of different sources or settings in one output directory."""
    path = os.path.join(out_dir, META_FILE)
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            old = json.load(f)
        diff = sorted(k for k in set(old) | set(meta) if old.get(k) != meta.get(k))
        if diff:
            changes = ', '.join(f'{k}: {old.get(k)!r} -> {meta.get(k)!r}' for k in diff)
            raise ValueError(
                f'{out_dir} holds shards of another CapFilt job ({changes}); use a new output '
                'directory, or delete its shards/ and capfilt_meta.json to start over'
            )


def process_batch(
    batch: dict,
    captioner: Captioner,
    capfilter: CapFilter,
    preprocess: Callable,
    filter_preprocess: Callable,
) -> list:
    """Shard records (see the module docstring) of one loaded batch, errors excluded."""
    if not batch['pairs']:
        return []
    indices = [p['index'] for p in batch['pairs']]
    images = preprocess(dict(inputs=batch['images']), False)['inputs']  # (B, 3, H, W)
    synthetic = captioner(images, indices)  # B lists of K captions
    if filter_preprocess is not preprocess:
        images = filter_preprocess(dict(inputs=batch['images']), False)['inputs']
    texts = [list(p['captions']) + syn for p, syn in zip(batch['pairs'], synthetic)]
    scores = capfilter.scores(images, texts)
    records = []
    for pair, syn, score in zip(batch['pairs'], synthetic, scores):
        n_web = len(pair['captions'])
        records.append(
            dict(
                index=pair['index'],
                image=pair['key'],
                web=[dict(caption=c, score=s) for c, s in zip(pair['captions'], score[:n_web])],
                synthetic=[dict(caption=c, score=s) for c, s in zip(syn, score[n_web:])],
            )
        )
    return records


def _progress_bar(total: int, enabled: bool) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # mmengine's bar: images/s and ETA as well
        from mmengine.utils import ProgressBar

        class _Bar:
            def __init__(self) -> None:
                self.bar = ProgressBar(total) if enabled and total else None

            def update(self, n: int) -> None:
                if self.bar is not None:
                    self.bar.update(n)

            def close(self) -> None:
                pass

        return _Bar()
    return tqdm(total=total, unit='img', desc='capfilt', disable=not enabled, smoothing=0.1)


def run_capfilt(
    captioner_model: torch.nn.Module,
    filter_model: torch.nn.Module,
    source: PairSource,
    out_dir: str,
    pipeline: Callable,
    settings: CapFiltSettings,
    human_ann: Optional[str] = None,
    fingerprint: Optional[dict] = None,
    logger: Optional[MMLogger] = None,
) -> Optional[dict]:
    """Caption and filter ``source`` into ``out_dir``; every rank calls it.

    Args:
        captioner_model: a :class:`BlipCaption` (eval mode, on its device).
        filter_model: a :class:`BlipRetrieval` (eval mode, on its device).
        source: the web pairs (:mod:`blip_plugin.capfilt.source`).
        out_dir: output directory (``shards/``, ``bootstrapped.json``, ``summary.json``).
        pipeline: loaded image dict -> ``PackInputs`` dict (a test pipeline without its
            loader, as :func:`blip_plugin.apis.pipeline.build_inference_pipeline`).
        settings: the ``capfilt`` config.
        human_ann: optional human-annotated pairs (annotation list) put first in the output.
        fingerprint: extra facts a shard depends on (e.g. checkpoints); a re-run into the
            same ``out_dir`` must give the same. Defaults to None.
        logger: defaults to the current MMLogger.

    Returns:
        The summary (rank 0), None on other ranks.
    """
    logger = logger or MMLogger.get_current_instance()
    rank, world = get_dist_info()
    captioner = settings.build_captioner(captioner_model)
    capfilter = CapFilter(filter_model, settings.threshold)
    meta = dict(
        source=str(source.name),
        num_pairs=len(source),
        shard_size=settings.shard_size,
        **settings.output_key(),
        **(fingerprint or {}),
    )
    meta = json.loads(json.dumps(meta))  # as it reads back (tuples -> lists)
    _check_meta(out_dir, meta)
    barrier()
    if rank == 0:
        atomic_write_text(json.dumps(meta, indent=1), os.path.join(out_dir, META_FILE))

    shards = _shards(len(source), settings.shard_size)
    mine = [s for s in shards if s[0] % world == rank]
    todo = [s for s in mine if not os.path.isfile(shard_path(out_dir, s[0]))]
    logger.info(
        f'capfilt: {len(source)} web pairs in {len(shards)} shards of {settings.shard_size}; '
        f'rank {rank}/{world}: {len(mine)} shards, {len(mine) - len(todo)} already done'
    )
    bs = settings.batch_size
    batches = [(s, b, min(b + bs, stop)) for s, start, stop in todo for b in range(start, stop, bs)]
    loader = DataLoader(
        _ShardBatches(source, batches, pipeline),
        batch_size=None,
        shuffle=False,
        num_workers=settings.num_workers,
    )
    preprocess = captioner_model.data_preprocessor
    filter_preprocess = filter_model.data_preprocessor
    bar = _progress_bar(sum(stop - start for _, start, stop in todo), enabled=rank == 0)
    records: list = []
    n_images, n_skipped, t0 = 0, 0, time.perf_counter()
    for batch in loader:
        for err in batch['errors']:
            if not settings.skip_unreadable:
                raise CapFiltImageError(
                    err['error'] + ' (set capfilt.skip_unreadable=True to skip such images)'
                )
            logger.warning(f'capfilt: skipped unreadable image: {err["error"]}')
            records.append(dict(index=err['index'], image=err['key'], error=err['error']))
            n_skipped += 1
        records += process_batch(batch, captioner, capfilter, preprocess, filter_preprocess)
        n_images += batch['stop'] - batch['start']
        bar.update(batch['stop'] - batch['start'])
        shard, start, stop = shards[batch['shard']]
        if batch['stop'] == stop:  # the shard's last batch
            records.sort(key=lambda r: r['index'])
            if [r['index'] for r in records] != list(range(start, stop)):
                raise RuntimeError(f'shard {shard}: records do not cover pairs {start}..{stop - 1}')
            text = ''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records)
            atomic_write_text(text, shard_path(out_dir, shard))
            records = []
    bar.close()
    seconds = time.perf_counter() - t0
    counts = all_gather_object(dict(images=n_images, seconds=seconds, skipped=n_skipped))
    barrier()
    if rank != 0:
        return None
    run = dict(
        images=sum(c['images'] for c in counts),
        seconds=max(c['seconds'] for c in counts),
        skipped_unreadable=sum(c['skipped'] for c in counts),
        world_size=world,
    )
    run['images_per_s'] = run['images'] / run['seconds'] if run['seconds'] > 0 else 0.0
    logger.info(
        f'capfilt: processed {run["images"]} images in {run["seconds"]:.1f} s '
        f'({run["images_per_s"]:.1f} images/s over {world} rank(s))'
    )
    summary = merge_shards(
        out_dir,
        len(shards),
        threshold=settings.threshold,
        filter_synthetic=settings.filter_synthetic,
        human_ann=human_ann,
        logger=logger,
    )
    summary['this_run'] = run
    atomic_write_text(json.dumps(summary, indent=1), os.path.join(out_dir, 'summary.json'))
    return summary
