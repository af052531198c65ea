# A tiny BLIP NLVR2 model on the shapes world's image-pair statements ("both images contain a
# red triangle", "the left image contains more shapes than the right image"): True/False, near
# half of each, and the statement alone does not tell which. Trained from scratch; measured
# dev accuracy and what did not work: docs/nlvr.md.
# Data: python tools/make_shapes_world.py.
_base_ = [
    '../_base_/datasets/nlvr2.py',
    '../_base_/models/blip-tiny_shapes.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/shapes_world'
img_size = 32

model = dict(
    type='BlipNLVR',
    vision_encoder={{_base_.tiny_vit}},
    med_config={{_base_.tiny_med}},
    tokenizer={{_base_.tiny_tokenizer}},
    # BERT's 0.02 init is scaled for a 768-wide MED; at width 64 it leaves the image's share of
    # the [ENC] state so small that training sits at the label prior. 0.07 (= 0.02 * sqrt(768 /
    # 64)) learns one statement family; the full mix leaves the prior only from 0.15 (docs/nlvr.md).
    init_std=0.15,
    data_preprocessor={{_base_.blip_data_preprocessor}},
)

# no crop or flip: statements count shapes near the border and name colours and sides
pair_loading = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
]
test_pipeline = [
    dict(
        type='ApplyToList',
        scatter_key='img_path',
        transforms=pair_loading,
        collate_keys=['img', 'img_shape', 'ori_shape'],
    ),
    dict(type='StackImagePair'),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['sample_idx']),
]
train_pipeline = [dict(type='NLVRSwapPair', prob=0.5)] + test_pipeline
train_dataloader = dict(
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline),
)
val_dataloader = dict(num_workers=2, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(num_workers=2, dataset=dict(data_root=data_root, pipeline=test_pipeline))

# From scratch: the toy pre-training (ITM loss 0.63) did not help (docs/nlvr.md).
load_from = None

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), clip_grad=dict(max_norm=5.0)
)
max_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=1e-5),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
