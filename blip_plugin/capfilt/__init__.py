"""CapFilt (paper section 3.4): a captioner writes synthetic captions for web images, a filter
removes noisy web and synthetic texts, and the kept pairs (plus human-annotated ones) form the
bootstrapped pre-training set. Sharded, resumable and distributed: :func:`run_capfilt`."""

from .captioner import Captioner, image_seed
from .filter import CapFilter, is_kept
from .merge import merge_shards, read_shard_records, shard_path
from .metrics import filter_precision_recall
from .runner import CapFiltImageError, CapFiltSettings, process_batch, run_capfilt
from .source import AnnotationSource, IterableSource, PairSource, WebPair

__all__ = [
    'Captioner',
    'image_seed',
    'CapFilter',
    'is_kept',
    'merge_shards',
    'read_shard_records',
    'shard_path',
    'filter_precision_recall',
    'CapFiltImageError',
    'CapFiltSettings',
    'process_batch',
    'run_capfilt',
    'AnnotationSource',
    'IterableSource',
    'PairSource',
    'WebPair',
]
