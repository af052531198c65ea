# MSR-VTT text-video retrieval, 1k-A test split, zero-shot (official eval_retrieval_video.py,
# configs/retrieval_msrvtt.yaml, data/video_dataset.py): the official msrvtt_test.jsonl (1,000
# clips, one caption each) under data/msrvtt/annotations, the clips as data/msrvtt/videos/
# <clip_name>.mp4. 8 frames per clip, uniformly sampled, resized to 384 x 384.
data_root = 'data/msrvtt'
img_size = 384
num_frames = 8

test_pipeline = [
    dict(type='BlipLoadVideo', num_frames=num_frames, sampling='uniform', scale=img_size),
    dict(
        type='PackInputs',
        input_key='video',
        algorithm_keys=['gt_caption', 'image_idx', 'text_idx'],
        meta_keys=['video_path', 'video_id', 'frame_inds'],
    ),
]
test_dataloader = dict(
    batch_size=64,  # official batch_size 64 (x 8 frames through the ViT)
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='MSRVTTRetrieval',
        data_root=data_root,
        ann_file='annotations/msrvtt_test.jsonl',
        data_prefix=dict(video_path='videos'),
        max_words=40,
        pipeline=test_pipeline,
    ),
)
# the whole split is ranked at once: features of every batch, then ITC + ITM over all pairs
test_cfg = dict(type='BlipRetrievalTestLoop')
test_evaluator = dict(type='BlipVideoRetrievalRecall')
