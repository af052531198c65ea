# Zero-shot video QA on MSVD-QA (paper Table 11), as blip-base_zeroshot_msrvtt-qa.py: the
# released test_qa.json and youtube_mapping.txt (video_id N -> clip name of "vidN") under
# data/msvd/msvd_qa, the clips as data/msvd/YouTubeClips/<clip name>.avi.
_base_ = ['./blip-base_zeroshot_msrvtt-qa.py']

data_root = 'data/msvd'
test_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='msvd_qa/test_qa.json',
        data_prefix=dict(video_path='YouTubeClips'),
        video_name='{}.avi',
        video_mapping='msvd_qa/youtube_mapping.txt',
    )
)
