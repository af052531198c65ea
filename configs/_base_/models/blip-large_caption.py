# BLIP captioner, ViT-L/16 at 384 px (official configs/caption_coco.yaml, 'large' lines).
_base_ = ['./blip-base_caption.py']

model = dict(
    # gradient checkpointing of the last 5 ViT blocks, as the official large recipe
    vision_encoder=dict(arch='large', grad_ckpt=True, ckpt_layer=5),
)
