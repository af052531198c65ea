# Zero-shot video QA on the shapes-world clips (blip-base_zeroshot_msrvtt-qa.py in miniature):
# the tiny VQA model of blip-tiny_1xb32_shapes-vqa.py, unchanged, on 16 frames per clip whose
# tokens are concatenated for the question encoder; answers ranked over the 12-answer list, as
# that model was trained. No video training. Test only:
#   python tools/test.py configs/toy/blip-tiny_zeroshot_shapes-video-qa.py \
#       work_dirs/blip-tiny_1xb32_shapes-vqa/epoch_10.pth
_base_ = ['./blip-tiny_1xb32_shapes-vqa.py']

num_frames = 16
model = dict(
    type='BlipVideoVQA',
    num_frames=num_frames,
    answer_list=f'{_base_.data_root}/video/annotations/answer_list.json',
    data_preprocessor=dict(_delete_=True, **_base_.blip_video_data_preprocessor),
)
load_from = 'work_dirs/blip-tiny_1xb32_shapes-vqa/epoch_10.pth'

video_pipeline = [
    dict(type='BlipLoadVideo', num_frames=num_frames, sampling='uniform', scale=_base_.img_size),
    dict(
        type='PackInputs',
        input_key='video',
        algorithm_keys=['question', 'gt_answer', 'gt_answer_count', 'answer_type'],
        meta_keys=['question_id', 'video_path'],
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
        type='VideoQA',
        data_root=_base_.data_root,
        ann_file='video/annotations/qa_test.json',
        data_prefix=dict(video_path='video/clips'),
        video_name='video{}.mp4',
        pipeline=video_pipeline,
        _delete_=True,
    ),
)

# test only: no training or validation parts
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
