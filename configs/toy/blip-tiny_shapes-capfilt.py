# CapFilt on the shapes world with the toy BLIP: the toy captioner
# (blip-tiny_1xb32_shapes-caption.py) and the toy filter (blip-tiny_1xb32_shapes-retrieval.py)
# bootstrap data/shapes_world/annotations/web_pairs.json, whose planted noise is listed in
# web_pairs_truth.json:
#   python tools/capfilt.py configs/toy/blip-tiny_shapes-capfilt.py \
#       --web-ann data/shapes_world/annotations/web_pairs.json --out work_dirs/shapes-capfilt \
#       --human-ann data/shapes_world/annotations/caption_train.json \
#       --truth data/shapes_world/annotations/web_pairs_truth.json
_base_ = ['../_base_/models/blip-tiny_shapes.py']

img_size = 32

captioner = dict(
    type='BlipCaption',
    vision_encoder=_base_.tiny_vit,
    text_decoder=dict(type='MEDDecoder', config=_base_.tiny_med),
    tokenizer=_base_.tiny_tokenizer,
    prompt='a picture of ',
    max_txt_len=40,
    data_preprocessor=_base_.blip_data_preprocessor,
)
filter = dict(
    type='BlipRetrieval',
    vision_encoder=_base_.tiny_vit,
    med_config=_base_.tiny_med,
    tokenizer=_base_.tiny_tokenizer,
    embed_dim=32,
    queue_size=640,
    max_txt_len=35,
    data_preprocessor=_base_.blip_data_preprocessor,
)
captioner_load_from = 'work_dirs/blip-tiny_1xb32_shapes-caption/epoch_8.pth'
filter_load_from = 'work_dirs/blip-tiny_1xb32_shapes-retrieval/epoch_3.pth'

capfilt = dict(
    num_captions=1,
    strategy='sample',
    top_p=0.9,
    max_length=40,  # as the toy captioner's generation
    min_length=5,
    threshold=0.5,
    filter_synthetic=True,
    shard_size=250,
    batch_size=64,
    num_workers=2,
    seed=0,
    skip_unreadable=False,
    image_root='data/shapes_world',  # web_pairs.json's image paths are relative to it
)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs'),
]
