# Zero-shot Flickr30k captioning: the COCO-finetuned BLIP ViT-B captioner evaluated on the
# Flickr30k Karpathy test split with the COCO generation settings (beam 3, max_length 20,
# min_length 5) and no training, as mmpretrain evaluates its blip-base_3rdparty_caption on
# Flickr30k. Run it on the COCO weights:
#   bash tools/dist_test.sh configs/blip/blip-base_8xb32_caption_flickr30k-zeroshot.py \
#       model_base_caption_capfilt_large.pth 8
# (`blip-base_caption` in the model zoo; `blip-base_8xb32_caption_flickr30k.py` fine-tunes.)
_base_ = ['./blip-base_8xb32_caption_flickr30k.py']

# test only: no training or validation parts
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
