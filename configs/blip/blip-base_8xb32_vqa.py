# BLIP ViT-B VQAv2 fine-tuning (official configs/vqa.yaml): VQAv2 train + val + Visual Genome QA,
# 10 epochs, answers ranked over the 3,128-answer list; 8 GPUs x 32 questions (official:
# 16 per GPU). Start from the pre-trained weights (`load_from` a converted
# model_base_capfilt_large.pth, or pass it to blip_plugin.apis.init_model); evaluate test-dev
# by uploading the result file the test evaluator writes.
_base_ = [
    '../_base_/models/blip-base_vqa.py',
    '../_base_/datasets/coco_vqa.py',
    '../_base_/default_runtime.py',
]

# official: AdamW lr 2e-5, weight decay 0.05, cosine to 0 stepped per epoch, 10 epochs
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=10, eta_min=0.0)]
train_cfg = dict(by_epoch=True, max_epochs=10)
test_cfg = dict()
randomness = dict(seed=42)
