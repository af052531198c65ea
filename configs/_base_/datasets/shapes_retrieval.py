# Image-text retrieval on the embedded shapes world (python tools/make_shapes_world.py writes
# it to data/shapes_world): train on caption_train.json, rank the val/test splits both ways.
# The Karpathy caption files, as BLIP's COCO retrieval uses them; coco_retrieval.py scaled down
# (a milder crop, no RandAugment, no flip: captions say "on the left").
data_root = 'data/shapes_world'
img_size = 32

train_pipeline = [
    dict(type='BlipLoadImage', on_error='raise'),
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.8, 1.0),
        interpolation='bicubic',
        backend='pillow',
    ),
    dict(type='PackInputs', algorithm_keys=['gt_caption', 'image_idx']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=['gt_caption', 'image_idx', 'text_idx']),
]


def _split(ann_file: str, pipeline: list, train: bool) -> dict:
    return dict(
        type='COCORetrievalKarpathy',
        data_root=data_root,
        ann_file=ann_file,
        data_prefix=dict(img_path=''),
        test_mode=not train,
        max_words=30,
        pipeline=pipeline,
    )


train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=_split('annotations/caption_train.json', train_pipeline, True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=_split('annotations/caption_val.json', test_pipeline, False),
)
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=_split('annotations/caption_test.json', test_pipeline, False),
)
# the whole split is ranked at once: these loops collect features, then score all pairs
val_cfg = dict(type='BlipRetrievalValLoop')
test_cfg = dict(type='BlipRetrievalTestLoop')
val_evaluator = dict(type='BlipRetrievalRecall')
test_evaluator = dict(type='BlipRetrievalRecall')
