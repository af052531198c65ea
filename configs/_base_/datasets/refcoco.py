# RefCOCO (mmpretrain configs/_base_/datasets/refcoco.py): COCO train2014 images under
# data/coco/train2014, refer-toolkit annotations data/coco/refcoco/{instances.json, refs(unc).p}.
# RefCOCO+: refcoco+/..., refs(unc).p; RefCOCOg: refcocog/..., refs(umd).p, split 'val'/'test'.
# Boxes move with the image: Resize / RandomChoiceResize (mmcv) scale gt_bboxes and
# BlipRandomTranslatePad shifts them. mmpretrain also crops (mmdet.RandomCrop,
# relative_range 0.8) before resizing; mmdet is not a dependency here, so that crop is left out.
data_root = 'data/coco'
img_size = 384

train_pipeline = [
    dict(type='BlipLoadImage', on_error='raise'),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='BlipColorJitter',  # mmpretrain's, with a numpy 2-safe hue shift
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1,
                backend='cv2',
            )
        ],
        prob=0.5,
    ),
    dict(
        type='RandomChoiceResize',
        scales=[(384, 384), (360, 360), (344, 344), (312, 312), (300, 300), (286, 286), (270, 270)],
        keep_ratio=False,
    ),
    # mmpretrain's RandomTranslatePad, fixed: its offset draw fails when the image fills 384 px
    dict(type='BlipRandomTranslatePad', size=img_size, aug_translate=True),
    dict(type='BlipCleanCaption', keys='text', max_words=128),
    dict(
        type='PackInputs',
        algorithm_keys=['text', 'gt_bboxes', 'scale_factor'],
        meta_keys=['image_id'],
    ),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(type='BlipCleanCaption', keys='text', max_words=128),
    dict(
        type='PackInputs',
        algorithm_keys=['text', 'gt_bboxes', 'scale_factor'],
        meta_keys=['image_id'],
    ),
]

refcoco = dict(
    type='BlipRefCOCO',
    data_root=data_root,
    data_prefix=dict(img_path='train2014'),
    ann_file='refcoco/instances.json',
    split_file='refcoco/refs(unc).p',
)

train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**refcoco, split='train', pipeline=train_pipeline),
)

val_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**refcoco, split='val', pipeline=test_pipeline),
)
val_evaluator = dict(type='VisualGroundingAccuracy')

test_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**refcoco, split='testA', pipeline=test_pipeline),  # or 'testB'
)
test_evaluator = val_evaluator
