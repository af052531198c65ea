# BLIP visual dialog model, ViT-B/16 at 384 px (paper section 5.5, Figure 11; no official code):
# image embeddings and the caption encoder's states are concatenated into the cross-attention
# sequence of the dialog encoder ([ENC] + dialog history + question + candidate answer), whose
# ITM head scores the candidate; the 100 candidates of a round are ranked by that score.
_base_ = ['./blip_common.py']

model = dict(
    type='BlipVisDial',
    vision_encoder=dict(type='BlipViT', arch='base', img_size=384, grad_ckpt=True, ckpt_layer=4),
    med_config=_base_.med_config,
    tokenizer=dict(name_or_path='bert-base-uncased'),
    max_history_rounds=None,  # the whole history, cut to its last max_context_len tokens
    max_context_len=256,
    max_answer_len=32,
    max_caption_len=40,
    num_negatives=3,
    hard_negatives=0,
    rank_batch_size=500,
    data_preprocessor=_base_.blip_data_preprocessor,
)
