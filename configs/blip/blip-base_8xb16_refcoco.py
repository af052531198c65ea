# BLIP ViT-B visual grounding on RefCOCO (mmpretrain configs/blip/blip-base_8xb16_refcoco.py):
# 8 GPUs x 16 expressions, 384 px, AdamW lr 1.5e-5, weight decay 0.02, cosine per epoch over
# 120 epochs (mmpretrain's config sets no load_from; its released checkpoint is
# blip-base_refcoco in metafile.yml). Test on testA and on testB with
# `--cfg-options test_dataloader.dataset.split=testB`.
_base_ = [
    '../_base_/models/blip-base_grounding.py',
    '../_base_/datasets/refcoco.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.5e-5, weight_decay=0.02)
)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True)]
train_cfg = dict(by_epoch=True, max_epochs=120)
val_cfg = dict()
test_cfg = dict()
