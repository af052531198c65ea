# Tiny BLIP pre-training (ITC + ITM + LM, encoder and decoder sharing all but self-attention)
# on the shapes world's noisy web pairs (annotations/web_pairs.json: 30% of the texts belong
# to another image or say nothing). The official recipe scaled down: momentum encoders,
# queue, momentum distillation ramped over the first two epochs. Retrieval fine-tunes from
# its last checkpoint (blip-tiny_1xb32_shapes-retrieval.py).
_base_ = [
    '../_base_/models/blip-tiny_shapes.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/shapes_world'
img_size = 32

model = dict(
    type='BlipPretrain',
    vision_encoder={{_base_.tiny_vit}},
    med_config={{_base_.tiny_med}},
    tokenizer={{_base_.tiny_tokenizer}},
    share='all_but_self_attn',
    embed_dim=32,
    queue_size=640,
    momentum=0.995,
    alpha=0.4,
    alpha_warmup_epochs=2.0,
    max_txt_len=30,
    negative_all_rank=True,
    data_preprocessor={{_base_.blip_data_preprocessor}},
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.8, 1.0),
        interpolation='bicubic',
        backend='pillow',
    ),
    dict(type='PackInputs', algorithm_keys=['gt_caption']),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='WebPairs',
        data_root=data_root,
        ann_file=['annotations/web_pairs.json'],
        data_prefix=dict(img_path=''),
        max_words=30,
        pipeline=train_pipeline,
    ),
)

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), clip_grad=dict(max_norm=5.0)
)
max_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=1e-5),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None

default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
