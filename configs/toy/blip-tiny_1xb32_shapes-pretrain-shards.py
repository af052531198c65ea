# The toy pre-training of blip-tiny_1xb32_shapes-pretrain.py read from webdataset tar shards of
# the same noisy web pairs (python tools/make_shapes_world.py --shards 8), as
# configs/blip/blip-base_2x16xb90_pretrain-cc12m-shards.py reads CC12M. An epoch is
# num_samples pairs (one pass here: the world's 2000 web pairs); no sampler, the shard shuffle
# is seeded per epoch by DatasetEpochHook.
_base_ = ['./blip-tiny_1xb32_shapes-pretrain.py']

img_size = 32
train_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.8, 1.0),
        interpolation='bicubic',
        backend='pillow',
    ),
    dict(type='PackInputs', algorithm_keys=['gt_caption']),
]
train_dataloader = dict(
    sampler=None,
    dataset=dict(
        _delete_=True,
        type='WebShardPairs',
        data_root='data/shapes_world/shards',
        shards='web_pairs-{00000..00007}.tar',
        num_samples=2000,
        max_words=30,
        shuffle_buffer=256,
        pipeline=train_pipeline,
    ),
)
default_hooks = dict(sampler_seed=dict(_delete_=True, type='DatasetEpochHook'))
