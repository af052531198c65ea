# Zero-shot text-video retrieval on the shapes-world clips (blip-base_zeroshot_msrvtt-retrieval.py
# in miniature): the tiny image-text retrieval model of blip-tiny_1xb32_shapes-retrieval.py,
# unchanged, on 8 frames per clip; no video training. Clips: python tools/make_shapes_world.py
# (writes data/shapes_world/video). Test only:
#   python tools/test.py configs/toy/blip-tiny_zeroshot_shapes-video-retrieval.py \
#       work_dirs/blip-tiny_1xb32_shapes-retrieval/epoch_3.pth
_base_ = ['./blip-tiny_1xb32_shapes-retrieval.py']

num_frames = 8
model = dict(
    type='BlipVideoRetrieval',
    num_frames=num_frames,
    data_preprocessor=dict(_delete_=True, **_base_.blip_video_data_preprocessor),
)
load_from = 'work_dirs/blip-tiny_1xb32_shapes-retrieval/epoch_3.pth'

video_pipeline = [
    dict(type='BlipLoadVideo', num_frames=num_frames, sampling='uniform', scale=_base_.img_size),
    dict(
        type='PackInputs',
        input_key='video',
        algorithm_keys=['gt_caption', 'image_idx', 'text_idx'],
        meta_keys=['video_path', 'video_id', 'frame_inds'],
    ),
]
test_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='MSRVTTRetrieval',
        data_root=_base_.data_root,
        ann_file='video/annotations/retrieval_test.jsonl',
        data_prefix=dict(video_path='video/clips'),
        max_words=40,
        pipeline=video_pipeline,
        _delete_=True,
    ),
)
test_evaluator = dict(type='BlipVideoRetrievalRecall', _delete_=True)

# test only: no training or validation parts
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
