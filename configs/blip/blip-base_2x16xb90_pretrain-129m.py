# BLIP ViT-B pre-training on the 129M-image corpus (paper section 4.1; the released
# model_base.pth): the 14M corpus plus LAION-115M, web texts filtered and synthetic captions
# added by CapFilt with ViT-B (paper section 3.3). Recipe of blip-base_2x16xb90_pretrain-14m.py:
# 224 px, batch 2 x 16 x 90 = 2880, 20 epochs, lr 3e-4 decayed per epoch.
#
# At this scale the pairs are read from webdataset tar shards (an index of 129M json
# annotations does not fit in every dataloader worker). The authors publish the bootstrapped
# lists as {"url", "caption"} json (BLIP README, "Pre-training datasets download"): download
# them with img2dataset (output_format webdataset), or, for lists of local images, convert with
# tools/dataset_converters/pairs_to_shards.py; one folder of shards per list below.
# Official pretrain.py reads the 14M part every epoch plus one LAION chunk per epoch
# (reload_laion); here an epoch is `num_samples` pairs drawn from all shards (shuffled, each
# shard read once per pass), which covers the same data over the 20 epochs.
_base_ = ['./blip-base_2x16xb90_pretrain-cc12m-shards.py']

train_dataloader = dict(
    dataset=dict(
        data_root='data/pretrain-129m',
        shards=[
            'coco_karpathy_train/*.tar',  # human captions
            'vg_caption/*.tar',
            'ccs_filtered/*.tar',  # CC3M + CC12M + SBU, filtered web texts
            'ccs_synthetic_filtered/*.tar',  # ... filtered synthetic captions (CapFilt-B)
            'laion_filtered/*.tar',  # LAION-115M
            'laion_synthetic_filtered/*.tar',
        ],
        # pairs per epoch over all ranks: about the 14M corpus (web + synthetic texts) plus one
        # of the official LAION chunks; set it to what your download holds
        num_samples=30_000_000,
    ),
)
