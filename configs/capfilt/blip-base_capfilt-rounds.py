# Multi-round bootstrapping with BLIP ViT-B (the paper's future work, section 7), on 8 GPUs:
#   python tools/capfilt_rounds.py configs/capfilt/blip-base_capfilt-rounds.py --gpus 8
# Round r: pre-train (14M recipe) on the current set -> fine-tune captioner (LM) and filter
# (ITC + ITM) on COCO from that checkpoint -> CapFilt the original web pairs -> the next
# round pre-trains from scratch on COCO + the kept web texts + the kept synthetic captions.
# Every step resumes; re-running the command skips the finished steps.
rounds = dict(
    num_rounds=2,
    pretrain=dict(config='configs/blip/blip-base_2x16xb90_pretrain-14m.py', cfg_options=[]),
    captioner=dict(config='configs/capfilt/blip-base_8xb32_captioner-coco.py', cfg_options=[]),
    filter=dict(config='configs/capfilt/blip-base_8xb32_filter-coco.py', cfg_options=[]),
    capfilt=dict(config='configs/capfilt/blip-base_capfilt-coco.py', cfg_options=[]),
    human_ann='data/pretrain/coco_karpathy_train.json',
    web_ann='data/pretrain/web_14m.json',  # CC3M + CC12M + SBU + VG style web pairs
    image_root='data/pretrain',
    ann_key='train_dataloader.dataset.ann_file',
)
