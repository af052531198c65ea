# BLIP ViT-B pre-training read from webdataset tar shards (img2dataset's output format) instead
# of json lists: the recipe of blip-base_2x16xb90_pretrain-14m.py (224 px, batch 2 x 16 x 90 =
# 2880, 20 epochs, AdamW lr 3e-4 decayed 0.85 per epoch) on CC12M shards.
#
# An iterable dataset has no length, so an epoch is `num_samples` pairs over all ranks: set it
# to the number of pairs your shards hold (img2dataset's *_stats.json "successes" summed). The
# loop stays EpochBasedTrainLoop, so the per-epoch learning-rate decay of the paper applies
# unchanged. The dataloader takes no sampler (sampler=None; PyTorch refuses one for an
# IterableDataset); each epoch's shard shuffle is seeded by DatasetEpochHook, which replaces
# DistSamplerSeedHook. Shards are dealt to (rank, worker): write at least 32 x 8 of them.
_base_ = ['./blip-base_2x16xb90_pretrain-14m.py']

img_size = 224
train_pipeline = [
    # no LoadImageFromFile: shard samples carry the decoded image
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.2, 1.0),
        interpolation='bicubic',
        backend='pillow',
    ),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs', algorithm_keys=['gt_caption']),
]
train_dataloader = dict(
    batch_size=90,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=None,
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        _delete_=True,
        type='WebShardPairs',
        data_root='data/cc12m',
        shards='{00000..01242}.tar',  # img2dataset: 10,000 URLs a shard, 12.4M URLs
        num_samples=10_000_000,  # set to the pairs your download holds
        caption_ext='txt',
        max_words=30,
        shuffle_buffer=2000,
        on_error='skip',  # web images: undecodable ones are counted and logged
        pipeline=train_pipeline,
    ),
)
default_hooks = dict(sampler_seed=dict(_delete_=True, type='DatasetEpochHook'))
