# BLIP NLVR2 model, ViT-B/16 at 384 px (official configs/nlvr.yaml, models/blip_nlvr.py): the
# statement ([ENC] first) cross-attends to each image separately, merged per layer, and an MLP
# on the [ENC] state says True/False.
_base_ = ['./blip_common.py']

model = dict(
    type='BlipNLVR',
    # official create_vit(..., drop_path_rate=0.1); vit_grad_ckpt False
    vision_encoder=dict(type='BlipViT', arch='base', img_size=384, drop_path_rate=0.1),
    med_config=_base_.med_config,
    tokenizer=dict(name_or_path='bert-base-uncased'),
    max_txt_len=None,  # official: padding='longest', statements cut to 40 words
    data_preprocessor=_base_.blip_data_preprocessor,
)
