# BLIP ViT-L image-text retrieval fine-tuned on Flickr30k Karpathy (8 GPUs x 16 pairs), official
# configs/retrieval_flickr.yaml, 'large' lines: vit 'large', gradient checkpointing of the last
# 10 ViT blocks (vit_ckpt_layer 10), batch 16 per GPU (test 32), lr 5e-6; as ViT-B Flickr30k
# otherwise (k_test 128, hard negatives from the local batch, 6 epochs).
_base_ = ['./blip-base_8xb32_retrieval_flickr30k.py']

model = dict(vision_encoder=dict(arch='large', ckpt_layer=10))
train_dataloader = dict(batch_size=16)
val_dataloader = dict(batch_size=32)
test_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=5e-6))
