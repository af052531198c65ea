# A tiny BLIP that learns visual grounding on the shapes world on a CPU in minutes.
# Data: python tools/make_shapes_world.py (writes data/shapes_world).
_base_ = [
    '../_base_/datasets/shapes_refcoco.py',
    '../_base_/models/blip_common.py',
    '../_base_/default_runtime.py',
]

# Dimensions of the toy BLIP (as configs/toy/blip-tiny_1xb32_shapes-caption.py).
tiny_vit = dict(
    type='BlipViT', arch=dict(embed_dim=64, depth=2, num_heads=4), img_size=32, patch_size=4
)
tiny_med = dict(
    vocab_size=None,  # from the tokenizer, after the bin tokens are added to it
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    intermediate_size=256,
    max_position_embeddings=64,
    dropout=0.0,
)

model = dict(
    type='BlipGrounding',
    vision_encoder=tiny_vit,
    med_config=tiny_med,
    tokenizer=dict(name_or_path='data/shapes_world/tokenizer'),
    num_bins=64,  # one bin per pixel of the 64 px images
    max_txt_len=30,
    data_preprocessor={{_base_.blip_data_preprocessor}},
)

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), clip_grad=dict(max_norm=5.0)
)
max_epochs = 3
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
