# CapFilt step 2 with BLIP ViT-B at 384 px (paper section 3.4): the COCO-fine-tuned captioner
# writes a synthetic caption for every web image (nucleus sampling, p = 0.9), the
# COCO-fine-tuned filter removes web texts and synthetic captions its ITM head calls unmatched,
# and the kept pairs plus the human-annotated ones (COCO) are the new pre-training set:
#   bash tools/dist_capfilt.sh configs/capfilt/blip-base_capfilt-coco.py 8 \
#       --web-ann data/pretrain/cc3m.json --image-root data/pretrain \
#       --human-ann data/pretrain/coco_karpathy_train.json --out data/capfilt/cc3m
# Weights: the last checkpoints of blip-base_8xb32_{captioner,filter}-coco.py (below), or any
# BLIP caption / retrieval checkpoint through --captioner-ckpt / --filter-ckpt.
_base_ = ['../_base_/models/blip_common.py']

img_size = 384

captioner = dict(
    type='BlipCaption',
    vision_encoder=dict(type='BlipViT', arch='base', img_size=img_size),
    text_decoder=dict(type='MEDDecoder', config=_base_.med_config),
    tokenizer=dict(name_or_path='bert-base-uncased'),
    prompt='a picture of ',
    data_preprocessor=_base_.blip_data_preprocessor,
)
filter = dict(
    type='BlipRetrieval',
    vision_encoder=dict(type='BlipViT', arch='base', img_size=img_size),
    med_config=_base_.med_config,
    tokenizer=dict(name_or_path='bert-base-uncased'),
    embed_dim=256,
    queue_size=57600,
    max_txt_len=35,
    data_preprocessor=_base_.blip_data_preprocessor,
)
captioner_load_from = 'work_dirs/blip-base_8xb32_captioner-coco/epoch_5.pth'
filter_load_from = 'work_dirs/blip-base_8xb32_filter-coco/epoch_6.pth'

capfilt = dict(
    num_captions=1,  # paper: one synthetic caption per web image
    strategy='sample',  # nucleus sampling (paper section 4.3: better than beam for CapFilt)
    top_p=0.9,
    max_length=30,  # official BLIP_Decoder.generate defaults; lengths count the prompt
    min_length=10,
    threshold=0.5,  # noisy = ITM predicts unmatched
    filter_synthetic=True,
    shard_size=1000,
    batch_size=64,
    num_workers=8,
    seed=0,
    skip_unreadable=False,
    image_root='',
)

# the official test transform: BICUBIC square resize (LoadImageFromFile is replaced by the
# runner's loader, which also takes PIL images and arrays)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs'),
]
