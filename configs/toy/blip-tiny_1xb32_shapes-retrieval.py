# Tiny BLIP image-text retrieval on the shapes world: ITC + ITM fine-tuning from the toy
# pre-training (blip-tiny_1xb32_shapes-pretrain.py; its last checkpoint is load_from), then
# ITC ranking of the whole split and ITM re-rank of the top k_test (official recipe, scaled
# down). Without load_from it trains from scratch (set load_from=None).
_base_ = [
    '../_base_/datasets/shapes_retrieval.py',
    '../_base_/models/blip-tiny_shapes.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='BlipRetrieval',
    vision_encoder={{_base_.tiny_vit}},
    med_config={{_base_.tiny_med}},
    tokenizer={{_base_.tiny_tokenizer}},
    embed_dim=32,
    queue_size=640,
    momentum=0.995,
    alpha=0.4,
    alpha_warmup_epochs=1.0,
    max_txt_len=35,
    negative_all_rank=True,
    k_test=32,
    itm_batch_size=64,
    data_preprocessor={{_base_.blip_data_preprocessor}},
)
load_from = 'work_dirs/blip-tiny_1xb32_shapes-pretrain/epoch_10.pth'

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.05), clip_grad=dict(max_norm=5.0)
)
max_epochs = 3
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=1e-5),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)

default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
