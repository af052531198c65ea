# BLIP ViT-B captioner on Flickr30k Karpathy: fine-tune, or evaluate the COCO captioner
# zero-shot with tools/test.py (as mmpretrain's blip-base_8xb32_caption_flickr30k).
_base_ = [
    '../_base_/models/blip-base_caption.py',
    '../_base_/datasets/flickr30k_caption.py',
    '../_base_/schedules/caption.py',
    '../_base_/default_runtime.py',
]
