# BLIP ViT-L image-text retrieval fine-tuned on COCO Karpathy (8 GPUs x 16 pairs), official
# configs/retrieval_coco.yaml, 'large' lines: vit 'large', gradient checkpointing of the last
# 12 of its 24 blocks (vit_ckpt_layer 12), batch 16 per GPU (test 32), lr 5e-6; as ViT-B
# (AdamW wd 0.05, cosine to 0 over 6 epochs, k_test 256, hard negatives from all ranks).
# Start from the pre-trained ViT-L checkpoint: --cfg-options load_from=model_large.pth
_base_ = ['./blip-base_8xb32_retrieval.py']

model = dict(vision_encoder=dict(arch='large', ckpt_layer=12))
train_dataloader = dict(batch_size=16)
val_dataloader = dict(batch_size=32)
test_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=5e-6))
