# NoCaps, evaluation only (zero-shot transfer of a COCO-finetuned captioner, as the official
# configs/nocaps.yaml). Official nocaps_{val,test}.json ({"image", "img_id"}) under
# data/nocaps/annotations, images under data/nocaps; scored against the COCO-format
# nocaps_val_4500_captions.json (test captions are held by the evaluation server).
data_root = 'data/nocaps'
img_size = 384

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]

val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='BlipNoCaps',
        data_root=data_root,
        ann_file='annotations/nocaps_val.json',
        data_prefix=dict(img_path=''),
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(
    type='COCOCaptionMetric', ann_file=f'{data_root}/annotations/nocaps_val_4500_captions.json'
)

test_dataloader = val_dataloader
test_evaluator = val_evaluator
