# A tiny BLIP VQA model that learns the shapes world on a CPU in minutes: colour, count and
# existence questions, answers ranked over the 12-answer list (official VQA recipe, scaled
# down). Data: python tools/make_shapes_world.py (writes data/shapes_world).
_base_ = [
    '../_base_/models/blip_common.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/shapes_world'
img_size = 32

# The toy dimensions of blip-tiny_1xb32_shapes-caption.py.
tiny_vit = dict(
    type='BlipViT', arch=dict(embed_dim=64, depth=2, num_heads=4), img_size=img_size, patch_size=4
)
tiny_med = dict(
    vocab_size=None,  # from the tokenizer
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    intermediate_size=256,
    max_position_embeddings=64,
    dropout=0.0,
)

model = dict(
    type='BlipVQA',
    vision_encoder=tiny_vit,
    med_config=tiny_med,
    tokenizer=dict(name_or_path=f'{data_root}/tokenizer'),
    inference='rank',
    answer_list=f'{data_root}/annotations/answer_list.json',
    k_test=12,
    generation=dict(strategy='beam', num_beams=3, max_length=10, min_length=1),
    data_preprocessor={{_base_.blip_data_preprocessor}},
)

# No flip or crop: questions say "on the left" and count shapes near the border.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
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
        algorithm_keys=['question', 'gt_answer', 'gt_answer_count'],
        meta_keys=['question_id'],
    ),
]
_loader = dict(num_workers=2, persistent_workers=True, collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    **_loader,
    batch_size=32,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='BlipVQADataset',
        data_root=data_root,
        ann_file='annotations/vqa_train.json',
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    **_loader,
    batch_size=64,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BlipVQADataset',
        data_root=data_root,
        ann_file='annotations/vqa_val.json',
        answer_file='annotations/vqa_val_answers.json',
        pipeline=test_pipeline,
    ),
)
test_dataloader = dict(
    **_loader,
    batch_size=64,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BlipVQADataset',
        data_root=data_root,
        ann_file='annotations/vqa_test.json',
        answer_file='annotations/vqa_test_answers.json',
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(type='VQAAccuracy')
test_evaluator = dict(type='VQAAccuracy')

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), clip_grad=dict(max_norm=5.0)
)
max_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=1e-5),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
