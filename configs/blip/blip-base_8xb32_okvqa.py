# BLIP ViT-B on OK-VQA (Marino et al. 2019), VQA API files as released:
# data/coco/annotations/OpenEnded_mscoco_{train,val}2014_questions.json and
# mscoco_{train,val}2014_annotations.json (10 answers per question: 5 annotators, each twice).
# Answers are generated (the open answer space has no fixed candidate list), scored with the
# official VQA accuracy on val.
_base_ = ['./blip-base_8xb32_vqa.py']

model = dict(inference='generate', answer_list=None)

_okvqa = dict(type='VQAOpenEndedDataset', data_root='data/coco')
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **_okvqa,
        data_prefix=dict(img_path='train2014'),
        question_file='annotations/OpenEnded_mscoco_train2014_questions.json',
        ann_file='annotations/mscoco_train2014_annotations.json',
        pipeline=_base_.train_pipeline,
    )
)
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        **_okvqa,
        data_prefix=dict(img_path='val2014'),
        question_file='annotations/OpenEnded_mscoco_val2014_questions.json',
        ann_file='annotations/mscoco_val2014_annotations.json',
        pipeline=_base_.test_pipeline,
    ),
)
val_evaluator = dict(type='VQAAccuracy')
val_cfg = dict()
test_dataloader = dict(val_dataloader, dataset=dict(val_dataloader['dataset'], _delete_=True))
test_evaluator = dict(type='VQAAccuracy', _delete_=True)
train_cfg = dict(val_interval=1)
