# NoCaps validation with the COCO-finetuned BLIP ViT-B captioner, zero-shot (official
# configs/nocaps.yaml: beam 3, max_length 20, min_length 5). Evaluation only:
#   python tools/test.py configs/blip/blip-base_8xb32_nocaps.py CHECKPOINT
_base_ = [
    '../_base_/models/blip-base_caption.py',
    '../_base_/datasets/nocaps.py',
    '../_base_/default_runtime.py',
]
