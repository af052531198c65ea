# BLIP ViT-L pre-training on the 129M corpus (the released model_large.pth). Paper section 4.1:
# batch 2400 for ViT-L (2 x 16 x 75 here), lr warmed up to 2e-4 (3e-4 for ViT-B), 20 epochs,
# 224 px. Gradient checkpointing of the last 5 ViT blocks as LAVIS blip_pretrain_large.yaml
# (vit_grad_ckpt True, vit_ckpt_layer 5). The same CapFilt-bootstrapped data as ViT-B.
_base_ = ['./blip-base_2x16xb90_pretrain-129m.py']

model = dict(vision_encoder=dict(arch='large', grad_ckpt=True, ckpt_layer=5))
train_dataloader = dict(batch_size=75)

optim_wrapper = dict(optimizer=dict(lr=2e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 2e-4, by_epoch=False, begin=0, end=3000),
    dict(type='ExponentialLR', gamma=0.85, by_epoch=True, begin=1, end=20),
]
