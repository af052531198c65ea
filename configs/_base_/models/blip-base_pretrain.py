# BLIP pre-training model, ViT-B/16 at 224 px (paper section 3, official configs/pretrain.yaml,
# models/blip_pretrain.py): ITC + ITM + LM, encoder and decoder sharing all but self-attention.
_base_ = ['./blip_common.py']

model = dict(
    type='BlipPretrain',
    vision_encoder=dict(type='BlipViT', arch='base', img_size=224),
    med_config=_base_.med_config,
    tokenizer=dict(name_or_path='bert-base-uncased'),
    share='all_but_self_attn',  # paper Table 3; also 'all' and 'none'
    label_smoothing=0.1,
    embed_dim=256,
    queue_size=57600,
    momentum=0.995,
    alpha=0.4,
    alpha_warmup_epochs=2.0,  # official pretrain.py ramps alpha over the first 2 epochs
    max_txt_len=30,
    negative_all_rank=True,  # hard negatives from the global batch
    data_preprocessor=_base_.blip_data_preprocessor,
)
