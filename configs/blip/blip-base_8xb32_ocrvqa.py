# BLIP ViT-B on OCR-VQA (Mishra et al. 2019): data/ocrvqa/annotations/dataset.json as released
# (split 1/2/3 = train/val/test), book covers under data/ocrvqa/images named {id}.jpg. One
# reference answer per question: accuracy is exact match after the VQA normalisation.
# Answers are generated (titles and author names are open-ended).
_base_ = ['./blip-base_8xb32_vqa.py']

model = dict(inference='generate', answer_list=None)

_ocrvqa = dict(
    type='OCRVQADataset',
    data_root='data/ocrvqa',
    ann_file='annotations/dataset.json',
    data_prefix=dict(img_path='images'),
)
_loader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
)
train_dataloader = dict(
    dataset=dict(_delete_=True, **_ocrvqa, split='train', pipeline=_base_.train_pipeline)
)
val_dataloader = dict(
    **_loader, dataset=dict(**_ocrvqa, split='val', pipeline=_base_.test_pipeline)
)
test_dataloader = dict(
    **_loader, dataset=dict(**_ocrvqa, split='test', pipeline=_base_.test_pipeline)
)
val_evaluator = dict(type='VQAAccuracy')
test_evaluator = dict(type='VQAAccuracy', _delete_=True)
val_cfg = dict()
train_cfg = dict(val_interval=1)
