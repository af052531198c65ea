# BLIP ViT-B image-text retrieval fine-tuned on Flickr30k Karpathy (8 GPUs x 32 pairs),
# official configs/retrieval_flickr.yaml: as COCO, but k_test 128 and hard negatives from the
# local batch. Official practice starts from the COCO-finetuned retrieval checkpoint
# (model_base_retrieval_coco.pth). Annotations flickr30k_{train,val,test}.json of the BLIP
# release under data/flickr30k/annotations; images under data/flickr30k.
_base_ = ['./blip-base_8xb32_retrieval.py']

data_root = 'data/flickr30k'
model = dict(k_test=128, negative_all_rank=False)
train_dataloader = dict(
    dataset=dict(
        type='Flickr30kRetrievalKarpathy',
        data_root=data_root,
        ann_file='annotations/flickr30k_train.json',
    )
)
val_dataloader = dict(
    dataset=dict(
        type='Flickr30kRetrievalKarpathy',
        data_root=data_root,
        ann_file='annotations/flickr30k_val.json',
    )
)
test_dataloader = dict(
    dataset=dict(
        type='Flickr30kRetrievalKarpathy',
        data_root=data_root,
        ann_file='annotations/flickr30k_test.json',
    )
)
