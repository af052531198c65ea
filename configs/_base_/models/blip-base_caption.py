# BLIP captioner, ViT-B/16 at 384 px (official configs/caption_coco.yaml).
_base_ = ['./blip_common.py']

model = dict(
    type='BlipCaption',
    vision_encoder=dict(type='BlipViT', arch='base', img_size=384),
    text_decoder=dict(type='MEDDecoder', config=_base_.med_config),
    tokenizer=dict(name_or_path='bert-base-uncased'),
    prompt='a picture of ',
    # official generation: lengths count the prompt tokens
    generation=dict(strategy='beam', num_beams=3, max_length=20, min_length=5),
    data_preprocessor=_base_.blip_data_preprocessor,
)
