# BLIP retrieval model, ViT-B/16 at 384 px (official configs/retrieval_coco.yaml,
# models/blip_retrieval.py): ITC (momentum distillation, queue) + ITM (hard negatives),
# evaluated by ITC ranking then ITM re-rank of the top k_test.
_base_ = ['./blip_common.py']

model = dict(
    type='BlipRetrieval',
    # official: vit_grad_ckpt True, vit_ckpt_layer 4 for ViT-B
    vision_encoder=dict(type='BlipViT', arch='base', img_size=384, grad_ckpt=True, ckpt_layer=4),
    med_config=_base_.med_config,
    tokenizer=dict(name_or_path='bert-base-uncased'),
    embed_dim=256,
    queue_size=57600,
    momentum=0.995,
    alpha=0.4,
    alpha_warmup_epochs=1.0,  # train_retrieval.py: alpha * min(1, i / len(loader)) in epoch 0
    max_txt_len=35,
    negative_all_rank=True,  # COCO True, Flickr30k False
    k_test=256,  # COCO 256, Flickr30k 128
    itm_batch_size=256,
    data_preprocessor=_base_.blip_data_preprocessor,
)
