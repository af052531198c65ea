# CapFilt step 1a: the captioner. "Both the captioner and the filter are initialized from the
# same pre-trained model and finetuned individually on the COCO dataset" (paper section 3.4):
# the captioner is BlipCaption fine-tuned with the LM loss, as the COCO caption recipe.
# Pre-trained weights (official model_base.pth, or your own pre-training's last checkpoint):
#   wget -P checkpoints https://storage.googleapis.com/sfr-vision-language-research/BLIP/models/model_base.pth
_base_ = ['../blip/blip-base_8xb32_caption.py']

load_from = 'checkpoints/model_base.pth'
