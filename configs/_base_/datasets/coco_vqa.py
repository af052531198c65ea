# VQAv2 in the official BLIP annotation files (configs/vqa.yaml, data/vqa_dataset.py):
# data/coco/annotations/{vqa_train,vqa_val,vqa_test,vg_qa,answer_list}.json from the BLIP
# release; COCO images under data/coco (train2014/, val2014/, test2015/), Visual Genome images
# under data/visual_genome (image/). Training uses VQAv2 train + val + Visual Genome QA, as the
# official recipe; test-dev answers go to a result file for the evaluation server.
img_size = 480

# The official RandomAugment(2, 5, augs=[Identity, AutoContrast, Brightness, Sharpness,
# Equalize, ShearX, ShearY, TranslateX, TranslateY, Rotate]) in mmpretrain's terms (see
# coco_caption.py for the mapping); translation of 5 px at this size.
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
    dict(
        type='PackInputs',
        algorithm_keys=['question', 'gt_answer', 'gt_answer_weight'],
        meta_keys=['question_id'],
    ),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(
        type='PackInputs',
        algorithm_keys=[
            'question',
            'gt_answer',
            'gt_answer_weight',
            'gt_answer_count',
            'answer_type',
        ],
        meta_keys=['question_id'],
    ),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type='BlipVQADataset',
                data_root='data/coco',
                ann_file='annotations/vqa_train.json',
                pipeline=train_pipeline,
            ),
            dict(
                type='BlipVQADataset',
                data_root='data/coco',
                ann_file='annotations/vqa_val.json',
                pipeline=train_pipeline,
            ),
            dict(
                type='BlipVQADataset',
                data_root='data',
                data_prefix=dict(img_path='visual_genome'),
                ann_file='coco/annotations/vg_qa.json',
                pipeline=train_pipeline,
            ),
        ],
    ),
)

test_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='BlipVQADataset',
        data_root='data/coco',
        ann_file='annotations/vqa_test.json',
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
# test-dev has no public answers: write [{question_id, answer}] for the evaluation server
test_evaluator = dict(type='VQAAccuracy', result_file='work_dirs/vqa_test_dev_result.json')
