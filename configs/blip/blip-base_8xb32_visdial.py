# BLIP ViT-B VisDial v1.0 fine-tuning (paper section 5.5): the dialog encoder is trained with
# ITM to tell each round's true answer from sampled candidates; evaluation ranks all 100.
# Start from the pre-trained weights (`load_from` model_base.pth or model_base_capfilt_large.pth):
# the image-grounded text encoder and its ITM head initialise the dialog encoder, and the
# caption encoder starts as a copy of that encoder. The paper gives no VisDial hyper-parameters
# in this project's sources; these follow the other BLIP fine-tuning recipes (AdamW, weight
# decay 0.05, cosine to 0 per epoch). No fine-tuned checkpoint was released.
_base_ = [
    '../_base_/models/blip-base_visdial.py',
    '../_base_/datasets/visdial.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.05))
max_epochs = 5
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=0.0)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
default_hooks = dict(checkpoint=dict(save_best='visdial/ndcg', rule='greater'))
randomness = dict(seed=42)
