# Captioning on the embedded shapes world (python tools/make_shapes_world.py writes it to
# data/shapes_world). Same pipeline as coco_caption.py, scaled down: a milder crop, no
# RandAugment, and no flip, because captions say "on the left" / "on the right".
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
    dict(type='BlipCleanCaption', keys='gt_caption', max_words=30),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='BlipCOCOCaption',
        data_root=data_root,
        ann_file='annotations/caption_train.json',
        data_prefix=dict(img_path=''),
        pipeline=train_pipeline,
    ),
)

val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='BlipCOCOCaption',
        data_root=data_root,
        ann_file='annotations/caption_val.json',
        data_prefix=dict(img_path=''),
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(
    type='COCOCaptionMetric',
    ann_file=f'{data_root}/annotations/caption_val_gt.json',
    spice=False,  # SPICE needs a 400 MB download; the toy does without
)

test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='BlipCOCOCaption',
        data_root=data_root,
        ann_file='annotations/caption_test.json',
        data_prefix=dict(img_path=''),
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(
    type='COCOCaptionMetric',
    ann_file=f'{data_root}/annotations/caption_test_gt.json',
    spice=False,  # SPICE needs a 400 MB download; the toy does without
)
