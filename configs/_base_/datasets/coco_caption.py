# COCO Caption, Karpathy split, official BLIP recipe (configs/caption_coco.yaml,
# data/__init__.py). Annotations: coco_karpathy_{train,val,test}.json and the COCO-format
# coco_karpathy_{val,test}_gt.json from the BLIP release, under data/coco/annotations; images
# under data/coco (the "image" paths read val2014/..., train2014/...).
# Images stay BGR uint8 here; the model's data preprocessor converts to RGB and normalises.
data_root = 'data/coco'
img_size = 384

# The official RandomAugment(2, 5, augs=[Identity, AutoContrast, Brightness, Sharpness,
# Equalize, ShearX, ShearY, TranslateX, TranslateY, Rotate]) in mmpretrain's terms, each op
# applied with probability 0.5 as there. Ranges map level 5 of 10 to the official values:
# Brightness/Sharpness factor (5/10)*1.8+0.1 = 1.0 (1 + magnitude here), shear 0.15, a
# translation of 5 px (mmpretrain translates by a fraction of the side), rotation 15 degrees,
# each with a random sign; fill 128. mmpretrain has no Identity op, so it is left out.
rand_augment_policies = [
    dict(type='AutoContrast'),
    dict(type='Brightness', magnitude_range=(-0.9, 0.9), random_negative_prob=0.0),
    dict(type='Sharpness', magnitude_range=(-0.9, 0.9), random_negative_prob=0.0),
    dict(type='Equalize'),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='horizontal'),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='vertical'),
    dict(type='Translate', magnitude_range=(0, 10 / img_size), direction='horizontal'),
    dict(type='Translate', magnitude_range=(0, 10 / img_size), direction='vertical'),
    dict(type='Rotate', magnitude_range=(0, 30)),
]

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
        policies=rand_augment_policies,
        num_policies=2,
        magnitude_level=5,
        total_level=10,
        hparams=dict(pad_val=128),
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
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='BlipCOCOCaption',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_train.json',
        data_prefix=dict(img_path=''),
        pipeline=train_pipeline,
    ),
)

val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='BlipCOCOCaption',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_val.json',
        data_prefix=dict(img_path=''),
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(
    type='COCOCaptionMetric', ann_file=f'{data_root}/annotations/coco_karpathy_val_gt.json'
)

test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='BlipCOCOCaption',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_test.json',
        data_prefix=dict(img_path=''),
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(
    type='COCOCaptionMetric', ann_file=f'{data_root}/annotations/coco_karpathy_test_gt.json'
)
