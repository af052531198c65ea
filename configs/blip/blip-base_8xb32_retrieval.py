# BLIP ViT-B image-text retrieval fine-tuned on COCO Karpathy (8 GPUs x 32 pairs), official
# configs/retrieval_coco.yaml: AdamW lr 1e-5 wd 0.05, cosine to 0 per epoch, 6 epochs,
# k_test 256, hard negatives from all ranks. Start from a pre-trained checkpoint:
#   --cfg-options load_from=model_base.pth   (or model_base_14M.pth, model_base_capfilt_large.pth)
_base_ = [
    '../_base_/models/blip-base_retrieval.py',
    '../_base_/datasets/coco_retrieval.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=6, eta_min=0.0)]
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=1)
default_hooks = dict(checkpoint=dict(save_best='retrieval/r_mean', rule='greater'))
