# Zero-shot Flickr30k retrieval (paper Table 6): the COCO-finetuned ViT-B retrieval model
# evaluated on the Flickr30k Karpathy test split, with the Flickr30k evaluation settings of
# the official configs/retrieval_flickr.yaml (k_test 128) and no training. Run it on the COCO
# weights:
#   bash tools/dist_test.sh configs/blip/blip-base_8xb32_retrieval_flickr30k-zeroshot.py \
#       model_base_retrieval_coco.pth 8
# (`blip-base_retrieval` in the model zoo; a Hugging Face Salesforce/blip-itm-base-coco
# directory loads too.)
_base_ = ['./blip-base_8xb32_retrieval_flickr30k.py']

# test only: no training or validation parts
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
default_hooks = dict(checkpoint=dict(save_best=None))
