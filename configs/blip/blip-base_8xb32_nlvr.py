# BLIP ViT-B NLVR2 fine-tuning (official configs/nlvr.yaml, train_nlvr.py): 15 epochs, AdamW
# lr 3e-5, weight decay 0.05, cosine to 0 stepped per epoch; 8 GPUs x 32 pairs = the official
# 16 GPUs x 16. Start from the pre-trained weights (`load_from` model_base.pth or
# model_base_capfilt_large.pth): each cross-attention initialises both twins; the merge
# layers and the MLP head start fresh (logged as missing).
_base_ = [
    '../_base_/models/blip-base_nlvr.py',
    '../_base_/datasets/nlvr2.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=3e-5, weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=15, eta_min=0.0)]
train_cfg = dict(by_epoch=True, max_epochs=15, val_interval=1)
default_hooks = dict(checkpoint=dict(save_best='nlvr/accuracy', rule='greater'))
randomness = dict(seed=42)
