# MSRVTT-QA, zero-shot (paper section 5.6, Table 11): the released test_qa.json
# ([{"question", "answer", "video_id", "id"}]) as data/msrvtt/msrvtt_qa/test_qa.json, the
# clips as data/msrvtt/videos/video<video_id>.mp4. 16 frames per clip, uniformly sampled (paper).
# Accuracy: exact match after the VQA answer normalisation, overall and per question word.
data_root = 'data/msrvtt'
img_size = 480
num_frames = 16

test_pipeline = [
    # many questions per clip: frames are cached per video (set cache_dir to share a disk cache
    # between workers and runs)
    dict(
        type='BlipLoadVideo',
        num_frames=num_frames,
        sampling='uniform',
        scale=img_size,
        cache_size=64,
        cache_dir=None,
    ),
    dict(
        type='PackInputs',
        input_key='video',
        algorithm_keys=['question', 'gt_answer', 'gt_answer_count', 'answer_type'],
        meta_keys=['question_id', 'video_path'],
    ),
]
test_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='VideoQA',
        data_root=data_root,
        ann_file='msrvtt_qa/test_qa.json',
        data_prefix=dict(video_path='videos'),
        video_name='video{}.mp4',
        pipeline=test_pipeline,
    ),
)
test_cfg = dict()
test_evaluator = dict(type='VQAAccuracy')
