# BLIP ViT-B captioner fine-tuned on COCO Karpathy (8 GPUs x 32 images).
_base_ = [
    '../_base_/models/blip-base_caption.py',
    '../_base_/datasets/coco_caption.py',
    '../_base_/schedules/caption.py',
    '../_base_/default_runtime.py',
]
