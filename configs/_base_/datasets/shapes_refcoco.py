# Visual grounding on the embedded shapes world (python tools/make_shapes_world.py writes it to
# data/shapes_world): refcoco/instances.json + refs(unc).p in the refer toolkit's format, splits
# train / val / testA (even test image ids) / testB (odd). refcoco.py scaled down: 64 px images
# resized to 32 px, no augmentation (expressions say "on the left", so no flip either).
data_root = 'data/shapes_world'
img_size = 32

pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(type='BlipCleanCaption', keys='text', max_words=30),
    dict(
        type='PackInputs',
        algorithm_keys=['text', 'gt_bboxes', 'scale_factor'],
        meta_keys=['image_id'],
    ),
]

refcoco = dict(
    type='BlipRefCOCO',
    data_root=data_root,
    data_prefix=dict(img_path=''),
    ann_file='annotations/refcoco/instances.json',
    split_file='annotations/refcoco/refs(unc).p',
    pipeline=pipeline,
)

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**refcoco, split='train'),
)

val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**refcoco, split='val'),
)
val_evaluator = dict(type='VisualGroundingAccuracy')

test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**refcoco, split='testA'),  # or 'testB'
)
test_evaluator = val_evaluator
