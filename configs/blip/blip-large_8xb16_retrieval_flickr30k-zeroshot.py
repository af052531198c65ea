# Zero-shot Flickr30k retrieval with BLIP ViT-L (paper Table 6): the COCO-finetuned ViT-L
# retrieval model evaluated on the Flickr30k Karpathy test split with the Flickr30k settings
# of the official configs/retrieval_flickr.yaml (k_test 128, test batch 32) and no training.
# Run it on the COCO weights:
#   bash tools/dist_test.sh configs/blip/blip-large_8xb16_retrieval_flickr30k-zeroshot.py \
#       model_large_retrieval_coco.pth 8
# (`blip-large_retrieval` in the model zoo)
_base_ = ['./blip-large_8xb16_retrieval_flickr30k.py']

# test only: no training or validation parts
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
default_hooks = dict(checkpoint=dict(save_best=None))
