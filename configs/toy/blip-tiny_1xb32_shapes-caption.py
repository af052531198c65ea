# A tiny BLIP captioner that learns the shapes world on a CPU in minutes (the README's main
# job). Data: python tools/make_shapes_world.py (writes data/shapes_world).
_base_ = [
    '../_base_/datasets/shapes_caption.py',
    '../_base_/models/blip_common.py',
    '../_base_/default_runtime.py',
]

# Dimensions of the toy BLIP, shared by every shapes-world toy config.
tiny_vit = dict(
    type='BlipViT', arch=dict(embed_dim=64, depth=2, num_heads=4), img_size=32, patch_size=4
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
    type='BlipCaption',
    vision_encoder=tiny_vit,
    text_decoder=dict(type='MEDDecoder', config=tiny_med),
    tokenizer=dict(name_or_path='data/shapes_world/tokenizer'),
    prompt='a picture of ',
    max_txt_len=40,
    generation=dict(strategy='beam', num_beams=3, max_length=40, min_length=5),
    data_preprocessor={{_base_.blip_data_preprocessor}},
)

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), clip_grad=dict(max_norm=5.0)
)
max_epochs = 8
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
