# VisDial v1.0 in the official format (visualdialog.org/data) under data/visdial:
#   visdial_1.0_{train,val,test}.json, visdial_1.0_val_dense_annotations.json,
#   train2014/ and val2014/ (the COCO images of the train split), VisualDialog_val2018/,
#   VisualDialog_test2018/. Images are found by the id ending their file names.
# Training samples are rounds (ITM on the true answer vs. sampled candidates); evaluation
# samples are dialogs (every round with candidates is ranked; NDCG on the dense round).
data_root = 'data/visdial'
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
        type='PackInputs',
        algorithm_keys=['caption', 'history', 'question', 'answer_options', 'gt_index'],
        meta_keys=['image_id', 'round_id', 'sample_idx'],
    ),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(
        type='PackInputs',
        algorithm_keys=['caption', 'dialog', 'gt_index', 'dense_round', 'gt_relevance'],
        meta_keys=['image_id', 'sample_idx'],
    ),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='VisDialDataset',
        data_root=data_root,
        ann_file='visdial_1.0_train.json',
        image_dirs=['train2014', 'val2014'],
        per_round=True,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='VisDialDataset',
        data_root=data_root,
        ann_file='visdial_1.0_val.json',
        image_dirs=['VisualDialog_val2018'],
        dense_ann_file='visdial_1.0_val_dense_annotations.json',
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='VisDialMetric')
test_evaluator = val_evaluator
val_cfg = dict()
test_cfg = dict()
