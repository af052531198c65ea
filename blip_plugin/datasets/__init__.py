"""Datasets and transforms of the ``blip_plugin`` scope, and the shapes-world generator."""

from .coco_caption import BlipCOCOCaption, load_karpathy_captions
from .flickr30k_caption import BlipFlickr30kCaption
from .nlvr2 import NLVR2Dataset
from .nocaps import BlipNoCaps
from .refcoco import BlipRefCOCO, load_refs
from .retrieval import COCORetrievalKarpathy, Flickr30kRetrievalKarpathy, KarpathyRetrieval
from .shapes_world import make_shapes_world
from .transforms import BlipCleanCaption, pre_caption
from .video import MSRVTTRetrieval, VideoQA
from .visdial import VisDialDataset
from .vqa import BlipVQADataset, OCRVQADataset, VQAOpenEndedDataset, answer_weights, pre_question
from .web_pairs import WebPairs, read_annotations
from .web_shards import WebShardPairs, expand_shards, pairs_to_shards

__all__ = [
    'BlipCOCOCaption',
    'BlipFlickr30kCaption',
    'BlipNoCaps',
    'BlipCleanCaption',
    'load_karpathy_captions',
    'make_shapes_world',
    'pre_caption',
    'KarpathyRetrieval',
    'COCORetrievalKarpathy',
    'Flickr30kRetrievalKarpathy',
    'WebPairs',
    'read_annotations',
    'WebShardPairs',
    'expand_shards',
    'pairs_to_shards',
    'NLVR2Dataset',
    'BlipRefCOCO',
    'load_refs',
    'BlipVQADataset',
    'VQAOpenEndedDataset',
    'OCRVQADataset',
    'pre_question',
    'answer_weights',
    'MSRVTTRetrieval',
    'VideoQA',
    'VisDialDataset',
]
