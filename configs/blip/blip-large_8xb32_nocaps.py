# NoCaps validation with the COCO-finetuned BLIP ViT-L captioner, zero-shot (official
# configs/nocaps.yaml: beam 3, max_length 20, min_length 5). Evaluation only:
#   python tools/test.py configs/blip/blip-large_8xb32_nocaps.py CHECKPOINT
# (CHECKPOINT: model_large_caption.pth, `blip-large_caption` in the model zoo)
_base_ = [
    '../_base_/models/blip-large_caption.py',
    '../_base_/datasets/nocaps.py',
    '../_base_/default_runtime.py',
]
