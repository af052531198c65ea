# Zero-shot video QA on MSRVTT-QA (paper Table 11): the VQAv2-finetuned ViT-B VQA model,
# unchanged, on 16 frames per clip whose tokens are concatenated (16 x 901 at 480 px) for the
# question encoder. The official code for this was never released: answers are generated
# (beam search, as BlipVQA's 'generate'), since MSRVTT-QA's answers are open words; set
# model.inference='rank' and model.answer_list=<json list> to rank a candidate list instead.
#   bash tools/dist_test.sh configs/blip/blip-base_zeroshot_msrvtt-qa.py \
#       model_base_vqa_capfilt_large.pth 8
_base_ = [
    '../_base_/models/blip-base_vqa.py',
    '../_base_/datasets/msrvtt_qa.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='BlipVideoVQA',
    num_frames=16,
    inference='generate',
    answer_list=None,
    data_preprocessor=dict(_delete_=True, **_base_.blip_video_data_preprocessor),
)
