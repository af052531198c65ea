# Multi-round CapFilt on the shapes world with the toy BLIP (tools/capfilt_rounds.py): pre-train
# on human + noisy web pairs, fine-tune the toy captioner and filter from it, bootstrap the web
# pairs, pre-train again on the bootstrapped set; num_rounds times, then a last pre-training.
#   python tools/make_shapes_world.py
#   python tools/capfilt_rounds.py configs/toy/blip-tiny_shapes-capfilt-rounds.py --dry-run
#   python tools/capfilt_rounds.py configs/toy/blip-tiny_shapes-capfilt-rounds.py
no_workers = [
    f'{loader}.{key}'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for key in ('num_workers=0', 'persistent_workers=False')
]
rounds = dict(
    num_rounds=2,
    pretrain=dict(
        config='configs/toy/blip-tiny_1xb32_shapes-pretrain.py', cfg_options=no_workers[:2]
    ),
    captioner=dict(config='configs/toy/blip-tiny_1xb32_shapes-caption.py', cfg_options=no_workers),
    filter=dict(config='configs/toy/blip-tiny_1xb32_shapes-retrieval.py', cfg_options=no_workers),
    capfilt=dict(config='configs/toy/blip-tiny_shapes-capfilt.py', cfg_options=[]),
    human_ann='data/shapes_world/annotations/caption_train.json',
    web_ann='data/shapes_world/annotations/web_pairs.json',
    image_root='data/shapes_world',  # web_ann's image paths are relative to it
    ann_key='train_dataloader.dataset.ann_file',  # the pre-training list the rounds replace
)
