# BLIP VQA, ViT-B/16 at 480 px (official configs/vqa.yaml, models/blip_vqa.py): image-grounded
# question encoder + answer decoder, answers ranked over the 3,128-answer VQAv2 list.
_base_ = ['./blip_common.py']

model = dict(
    type='BlipVQA',
    # official create_vit('base', 480, drop_path_rate=0.1)
    vision_encoder=dict(type='BlipViT', arch='base', img_size=480, drop_path_rate=0.1),
    med_config=_base_.med_config,
    tokenizer=dict(name_or_path='bert-base-uncased'),
    inference='rank',  # official VQAv2 evaluation; 'generate' decodes answers instead
    answer_list='data/coco/annotations/answer_list.json',
    k_test=128,
    max_question_len=35,
    # official generate: 3 beams, max_length 10 and min_length 1 counting [DEC]
    generation=dict(strategy='beam', num_beams=3, max_length=10, min_length=1),
    data_preprocessor=_base_.blip_data_preprocessor,
)
