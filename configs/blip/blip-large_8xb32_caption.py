# BLIP ViT-L captioner fine-tuned on COCO Karpathy (8 GPUs x 32 images). The official large
# recipe used 16 images per GPU at lr 2e-6; the lr follows it.
_base_ = [
    '../_base_/models/blip-large_caption.py',
    '../_base_/datasets/coco_caption.py',
    '../_base_/schedules/caption.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(optimizer=dict(lr=2e-6))
