# NLVR2 in the official BLIP format (configs/nlvr.yaml, data/nlvr_dataset.py): annotations
# nlvr_{train,dev,test}.json of the BLIP release under data/nlvr2/annotations, images under
# data/nlvr2. A pair is loaded image by image (mmpretrain's ApplyToList), then stacked top over
# bottom into one (2H, W) image (StackImagePair); BlipNLVR splits it again.
_base_ = ['./coco_caption.py']  # for rand_augment_policies

data_root = 'data/nlvr2'
img_size = 384

train_pipeline = [
    dict(type='NLVRSwapPair', prob=0.5),  # official: swap the images and 'left'/'right'
    dict(
        type='ApplyToList',
        scatter_key='img_path',
        transforms=[
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
        ],
        collate_keys=['img', 'img_shape', 'ori_shape'],
    ),
    dict(type='StackImagePair'),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['sample_idx']),
]
test_pipeline = [
    dict(
        type='ApplyToList',
        scatter_key='img_path',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(
                type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'
            ),
        ],
        collate_keys=['img', 'img_shape', 'ori_shape'],
    ),
    dict(type='StackImagePair'),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['sample_idx']),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='NLVR2Dataset',
        data_root=data_root,
        ann_file='annotations/nlvr_train.json',
        data_prefix=dict(img_path=''),
        pipeline=train_pipeline,
    ),
    _delete_=True,
)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='NLVR2Dataset',
        data_root=data_root,
        ann_file='annotations/nlvr_dev.json',
        data_prefix=dict(img_path=''),
        pipeline=test_pipeline,
    ),
    _delete_=True,
)
test_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='NLVR2Dataset',
        data_root=data_root,
        ann_file='annotations/nlvr_test.json',
        data_prefix=dict(img_path=''),
        pipeline=test_pipeline,
    ),
    _delete_=True,
)
val_evaluator = dict(type='NLVRAccuracy', _delete_=True)
test_evaluator = dict(type='NLVRAccuracy', _delete_=True)
val_cfg = dict()
test_cfg = dict()
