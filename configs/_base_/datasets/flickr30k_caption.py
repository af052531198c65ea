# Flickr30k captions, Karpathy split, official BLIP files: flickr30k_{train,val,test}.json
# under data/flickr30k/annotations, images under data/flickr30k (flickr30k-images/...). The
# COCO-format ground truth flickr30k_{val,test}_gt.json is made from the val/test files (one
# image per entry, id = the file name's number). Pipelines and loaders: coco_caption.py.
_base_ = ['./coco_caption.py']

data_root = 'data/flickr30k'

train_dataloader = dict(
    dataset=dict(
        type='BlipFlickr30kCaption',
        data_root=data_root,
        ann_file='annotations/flickr30k_train.json',
    )
)
val_dataloader = dict(
    dataset=dict(
        type='BlipFlickr30kCaption', data_root=data_root, ann_file='annotations/flickr30k_val.json'
    )
)
val_evaluator = dict(ann_file=f'{data_root}/annotations/flickr30k_val_gt.json')
test_dataloader = dict(
    dataset=dict(
        type='BlipFlickr30kCaption', data_root=data_root, ann_file='annotations/flickr30k_test.json'
    )
)
test_evaluator = dict(ann_file=f'{data_root}/annotations/flickr30k_test_gt.json')
