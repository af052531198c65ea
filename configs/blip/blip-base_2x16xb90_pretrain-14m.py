# BLIP ViT-B pre-training on the 14M-image corpus (COCO, VG, CC3M, CC12M, SBU), 2 nodes x 16
# GPUs x 90 pairs = the paper's batch of 2880 (section 4.1). Paper recipe: 224 px, 20 epochs,
# AdamW wd 0.05, lr warmed up to 3e-4 (ViT-B; 2e-4 for ViT-L) then decayed by 0.85 per epoch
# (official configs/pretrain.yaml: warm-up from 1e-6 over 3000 steps, decay 0.9, min 1e-6).
# Annotation lists in the official format ([{"image", "caption"}]) under data/pretrain.
_base_ = [
    '../_base_/models/blip-base_pretrain.py',
    '../_base_/default_runtime.py',
]

data_root = 'data/pretrain'
img_size = 224
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # official transform_train for pre-training: RandomResizedCrop scale (0.2, 1.0)
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
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='WebPairs',
        data_root=data_root,
        ann_file=[
            'coco_karpathy_train.json',
            'vg_caption.json',
            'cc3m.json',
            'cc12m.json',
            'sbu.json',
        ],
        data_prefix=dict(img_path=''),
        max_words=30,
        pipeline=train_pipeline,
    ),
)

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 3e-4, by_epoch=False, begin=0, end=3000),
    dict(type='ExponentialLR', gamma=0.85, by_epoch=True, begin=1, end=20),
]
train_cfg = dict(by_epoch=True, max_epochs=20)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
