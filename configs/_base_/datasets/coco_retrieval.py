# COCO image-text retrieval, Karpathy split, official BLIP recipe (configs/retrieval_coco.yaml,
# data/__init__.py, data/coco_karpathy_dataset.py). Annotations coco_karpathy_{train,val,
# test}.json of the BLIP release under data/coco/annotations; images under data/coco.
# The train pipeline is the caption recipe's (same official transform_train).
_base_ = ['./coco_caption.py']

data_root = 'data/coco'
img_size = 384

train_pipeline = [
    dict(type='BlipLoadImage', on_error='raise'),
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.5, 1.0),
        interpolation='bicubic',
        backend='pillow',
    ),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies=_base_.rand_augment_policies,
        num_policies=2,
        magnitude_level=5,
        total_level=10,
        hparams=dict(pad_val=128),
    ),
    dict(type='PackInputs', algorithm_keys=['gt_caption', 'image_idx']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=['gt_caption', 'image_idx', 'text_idx']),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='COCORetrievalKarpathy',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_train.json',
        data_prefix=dict(img_path=''),
        max_words=30,
        pipeline=train_pipeline,
    ),
    _delete_=True,
)
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='COCORetrievalKarpathy',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_val.json',
        data_prefix=dict(img_path=''),
        test_mode=True,
        max_words=30,
        pipeline=test_pipeline,
    ),
    _delete_=True,
)
test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='COCORetrievalKarpathy',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_test.json',
        data_prefix=dict(img_path=''),
        test_mode=True,
        max_words=30,
        pipeline=test_pipeline,
    ),
    _delete_=True,
)
# the whole split is ranked at once: these loops collect features, then score all pairs
val_cfg = dict(type='BlipRetrievalValLoop')
test_cfg = dict(type='BlipRetrievalTestLoop')
val_evaluator = dict(type='BlipRetrievalRecall', _delete_=True)
test_evaluator = dict(type='BlipRetrievalRecall', _delete_=True)
