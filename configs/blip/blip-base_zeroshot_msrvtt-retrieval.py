# Zero-shot text-video retrieval on MSR-VTT 1k-A (paper Table 10; official
# eval_retrieval_video.py): the COCO-finetuned ViT-B retrieval model, unchanged, on 8 frames
# per clip. ITC ranks by the mean of the frames' projected [CLS] features; ITM re-ranks the top
# 128 (official k_test) over the 8 frames' tokens concatenated (8 x 577 per clip). Test only:
#   bash tools/dist_test.sh configs/blip/blip-base_zeroshot_msrvtt-retrieval.py \
#       model_base_retrieval_coco.pth 8
# (`blip-base_zeroshot_msrvtt-retrieval` in the model zoo loads those weights.)
_base_ = [
    '../_base_/models/blip-base_retrieval.py',
    '../_base_/datasets/msrvtt_retrieval.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='BlipVideoRetrieval',
    num_frames=8,
    vision_encoder=dict(grad_ckpt=False),
    k_test=128,
    data_preprocessor=dict(_delete_=True, **_base_.blip_video_data_preprocessor),
)
