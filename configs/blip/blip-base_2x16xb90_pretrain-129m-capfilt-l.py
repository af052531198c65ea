# BLIP ViT-B pre-trained on the 129M corpus bootstrapped by CapFilt-L: the captioner and filter
# are ViT-L models (paper Table 2, "B/L" rows; the released model_base_capfilt_large.pth, the
# start of the released ViT-B captioner and VQA models). Same recipe as
# blip-base_2x16xb90_pretrain-129m.py; only the synthetic-caption shards differ (BLIP README:
# "Filtered synthetic caption by ViT-L").
_base_ = ['./blip-base_2x16xb90_pretrain-129m.py']

train_dataloader = dict(
    dataset=dict(
        shards=[
            'coco_karpathy_train/*.tar',
            'vg_caption/*.tar',
            'ccs_filtered/*.tar',
            'ccs_synthetic_filtered_large/*.tar',
            'laion_filtered/*.tar',
            'laion_synthetic_filtered_large/*.tar',
        ],
    ),
)
