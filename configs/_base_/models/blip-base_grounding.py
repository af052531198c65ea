# BLIP visual grounding, ViT-B/16 at 384 px (mmpretrain configs/blip/blip-base_8xb16_refcoco.py,
# models/multimodal/blip/blip_grounding.py): unimodal text encoder, image-grounded (multimodal)
# encoder, and a decoder that writes the box as four bin tokens [unused340 + bin].
_base_ = ['./blip_common.py']

model = dict(
    type='BlipGrounding',
    # mmpretrain VisionTransformer(arch='b', img_size=384, patch_size=16), no drop path
    vision_encoder=dict(type='BlipViT', arch='base', img_size=384, patch_size=16),
    med_config=_base_.med_config,
    tokenizer=dict(name_or_path='bert-base-uncased'),
    num_bins=640,  # mmpretrain GroundingHead.image_res
    max_txt_len=128,
    weighted_loss=False,  # mmpretrain's gradient is plain cross-entropy (see grounding_head.py)
    box_l1_loss_coeff=4.0,
    box_giou_loss_coeff=2.0,
    data_preprocessor=_base_.blip_data_preprocessor,
)
