# Caption fine-tuning schedule (official configs/caption_coco.yaml): AdamW, cosine decay to
# min_lr 0 stepped per epoch, 5 epochs.
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.05))

param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=5, eta_min=0.0),
]

train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=1)
val_cfg = dict()
test_cfg = dict()
