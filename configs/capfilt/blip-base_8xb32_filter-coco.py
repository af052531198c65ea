# CapFilt step 1b: the filter, BlipRetrieval fine-tuned with ITC + ITM on COCO from the same
# pre-trained model as the captioner (paper section 3.4); its ITM head decides which texts
# are noisy. Pre-trained weights as blip-base_8xb32_captioner-coco.py.
_base_ = ['../blip/blip-base_8xb32_retrieval.py']

load_from = 'checkpoints/model_base.pth'
