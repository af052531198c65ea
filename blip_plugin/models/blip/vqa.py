"""Visual question answering: ViT + image-grounded question encoder + answer decoder
(paper section 5.3, Figure 5; official models/blip_vqa.py and train_vqa.py).

The question, with ``[ENC]`` in place of ``[CLS]``, is encoded with cross-attention to the
image; the answer decoder cross-attends to the question states. Training weights each answer's
LM loss by its share of the annotators. Inference either generates the answer (beam search over
the decoder) or ranks a candidate list (first-token shortlist, then full log-likelihood).
"""

import json
from typing import Optional, Sequence, Union

import torch
from mmengine.fileio import get_local_path
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from ...registry import MODELS
from ..generation import generate
from ..heads.vqa_head import rank_answers, weighted_answer_loss
from ..med import MEDConfig, MEDDecoder, MEDTransformer, load_tokenizer
from .momentum import ALIGNMENT_PARTS, bert_init

__all__ = ['BlipVQA', 'load_answer_list']

# Parts of BLIP checkpoints (pre-training, retrieval) that VQA does not use.
NON_VQA_PARTS = ALIGNMENT_PARTS


def load_answer_list(answer_list: Union[str, Sequence[str]]) -> list:
    """A candidate list given as a list of str or a JSON file holding one (official
    ``answer_list.json``: 3,128 answers for VQAv2)."""
    if isinstance(answer_list, str):
        with get_local_path(answer_list) as path, open(path, encoding='utf-8') as f:
            answer_list = json.load(f)
        source = answer_list
    else:
        source = 'the given answer list'
    answers = list(answer_list)
    if not answers or not all(isinstance(a, str) and a for a in answers):
        raise ValueError(f'{source}: an answer list must be a non-empty list of non-empty strings')
    return answers


@MODELS.register_module()
class BlipVQA(BaseModel):
    """BLIP VQA model.

    Attribute names are the official checkpoint's after :mod:`blip_plugin.models.convert`
    (``vision_encoder``, ``text_encoder``, ``text_decoder``), so ``model_vqa.pth`` /
    ``model_base_vqa_capfilt_large.pth``, mmpretrain's and Hugging Face's
    ``BlipForQuestionAnswering`` weights load into it, as do pre-training checkpoints (their
    ITC/ITM parts are skipped).

    Args:
        vision_encoder: config of the ViT (``BlipViT``).
        med_config: :class:`MEDConfig` fields shared by the question encoder (its
            ``encoder_width`` defaults to the ViT's width) and the answer decoder (whose
            cross-attention reads the question states, so its ``encoder_width`` is the text
            width, as the official decoder built from med_config.json); ``vocab_size`` None
            takes the tokenizer's length.
        tokenizer: kwargs of :func:`load_tokenizer`.
        inference: default answering method, 'rank' (official VQAv2 setting) or 'generate'.
            Defaults to 'rank'.
        answer_list: candidates of 'rank': a list of str or a JSON file of one. Defaults to
            None (then :meth:`answer` needs one).
        k_test: candidates re-ranked by full log-likelihood per question. Defaults to 128.
        max_question_len: questions are cut to this many tokens. Defaults to 35 (official).
        max_answer_len: training answers are cut to this many tokens; None keeps them whole,
            as the official code. Defaults to None.
        label_smoothing: of the answer LM loss (official 0.1). Defaults to 0.1.
        generation: default kwargs of :func:`blip_plugin.models.generation.generate`; lengths
            count the ``[DEC]`` token. Defaults to the official setting: beam search with 3
            beams, max_length 10, min_length 1.
        attend_question_padding: in 'generate', let the decoder attend to the padding of the
            question states too, as the official and Hugging Face ``generate`` do (they pass an
            all-ones mask), which makes an answer depend on the longest question of its batch.
            False masks padding, as training and 'rank' do. Defaults to False.
        data_preprocessor: MMEngine data preprocessor config (mean/std, BGR->RGB).
        init_cfg: MMEngine init config.
    """

    unused_weight_prefixes = NON_VQA_PARTS

    def __init__(
        self,
        vision_encoder: dict,
        med_config: dict,
        tokenizer: dict,
        inference: str = 'rank',
        answer_list: Union[str, Sequence[str], None] = None,
        k_test: int = 128,
        max_question_len: int = 35,
        max_answer_len: Optional[int] = None,
        label_smoothing: float = 0.1,
        generation: Optional[dict] = None,
        attend_question_padding: bool = False,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        _check_method(inference)
        self.tokenizer = load_tokenizer(**tokenizer)
        self.vision_encoder = MODELS.build(vision_encoder)
        med = MEDConfig.for_models(med_config, self.vision_encoder.embed_dim, len(self.tokenizer))
        self.text_encoder = MEDTransformer(med)
        bert_init(self.text_encoder)
        decoder_cfg = dict(med.to_dict(), encoder_width=med.hidden_size)
        self.text_decoder = MEDDecoder(decoder_cfg, label_smoothing=label_smoothing)
        self.inference, self.k_test = inference, k_test
        self.max_question_len, self.max_answer_len = max_question_len, max_answer_len
        self.generation = dict(strategy='beam', num_beams=3, max_length=10, min_length=1)
        self.generation.update(generation or {})
        self.attend_question_padding = attend_question_padding
        self.answer_list = load_answer_list(answer_list) if answer_list is not None else None
        self._candidates: Optional[tuple] = None  # (answers, ids, atts) tokenized once

    @property
    def device(self) -> torch.device:
        return self.text_decoder.lm_head.dense.weight.device

    # -- stages -------------------------------------------------------------------------------
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, 1+N, D) image embeddings."""
        return self.vision_encoder(images)

    def tokenize_questions(self, questions: Sequence[str]) -> tuple:
        """Questions -> ids (B, Lq) with ``[ENC]`` first (official blip_vqa.py) and mask."""
        tok = self.tokenizer(
            list(questions),
            padding='longest',
            truncation=True,
            max_length=self.max_question_len,
            return_tensors='pt',
        )
        ids = tok.input_ids.to(self.device)
        ids[:, 0] = self.tokenizer.enc_token_id
        return ids, tok.attention_mask.to(self.device)

    def tokenize_answers(self, answers: Sequence[str], max_length: Optional[int] = None) -> tuple:
        """Answers -> ids (A, La) ``[DEC] answer [SEP]`` and mask."""
        kw = dict(truncation=True, max_length=max_length) if max_length else {}
        tok = self.tokenizer(list(answers), padding='longest', return_tensors='pt', **kw)
        ids = tok.input_ids.to(self.device)
        ids[:, 0] = self.tokenizer.bos_token_id  # [CLS] -> [DEC]
        return ids, tok.attention_mask.to(self.device)

    def encode_question(
        self, question_ids: torch.Tensor, question_atts: torch.Tensor, image_embeds: torch.Tensor
    ) -> torch.Tensor:
        """Image-grounded question encoder: (B, Lq) ids -> (B, Lq, H) question states."""
        image_atts = None  # every image token is attended (official: all-ones mask)
        return self.text_encoder(question_ids, question_atts, image_embeds, image_atts)

    # -- runner API ---------------------------------------------------------------------------
    def forward(
        self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'loss'
    ):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.encode_image(inputs)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """Weighted answer loss of images (B, 3, H, W) with ``question``, ``gt_answer`` (str or
        list) and optionally ``gt_answer_weight`` (one per answer; default equal shares)."""
        questions, answers, weights, counts = [], [], [], []
        for i, sample in enumerate(data_samples):
            q, ans, w = _training_target(sample, i)
            questions.append(q)
            answers += ans
            weights += w
            counts.append(len(ans))
        q_ids, q_atts = self.tokenize_questions(questions)
        a_ids, a_atts = self.tokenize_answers(answers, self.max_answer_len)
        q_states = self.encode_question(q_ids, q_atts, self.encode_image(inputs))
        loss = weighted_answer_loss(
            self.text_decoder,
            q_states,
            q_atts,
            a_ids,
            a_atts,
            torch.tensor(weights, device=self.device),
            torch.tensor(counts, device=self.device),
            self.tokenizer.pad_token_id,
        )
        return dict(loss_vqa=loss)

    def predict(self, inputs: torch.Tensor, data_samples: list, **kwargs) -> list:
        """Answer each sample's ``question``; sets ``pred_answer`` (str)."""
        questions = [_question(s, i) for i, s in enumerate(data_samples)]
        answers = self.answer(inputs, questions, **kwargs)
        for sample, answer in zip(data_samples, answers):
            sample.pred_answer = answer
        return data_samples

    # -- plain-typed API ----------------------------------------------------------------------
    @torch.no_grad()
    def answer(
        self,
        images: torch.Tensor,
        questions: Sequence[str],
        method: Optional[str] = None,
        answer_list: Union[str, Sequence[str], None] = None,
        **overrides,
    ) -> list:
        """Answer one question per normalised image (B, 3, H, W).

        Args:
            images: (B, 3, H, W) normalised images.
            questions: B questions (cleaned as the datasets do, e.g. ``pre_question``).
            method: 'generate' or 'rank'; None = the model's ``inference``.
            answer_list: candidates of 'rank' (list or JSON file); None = the model's.
            **overrides: 'generate': generation kwargs (e.g. ``strategy='greedy'``);
                'rank': ``k`` (shortlist size).

        Returns:
            B answers (str).
        """
        method = method or self.inference
        _check_method(method)
        if len(questions) != images.shape[0]:
            raise ValueError(f'{images.shape[0]} images but {len(questions)} questions')
        q_ids, q_atts = self.tokenize_questions(questions)
        q_states = self.encode_question(q_ids, q_atts, self.encode_image(images))
        if method == 'generate':
            return self.generate_answers(q_states, q_atts, **overrides)
        answers, a_ids, a_atts = self._candidate_tensors(answer_list)
        best = rank_answers(
            self.text_decoder,
            q_states,
            q_atts,
            a_ids,
            a_atts,
            overrides.pop('k', self.k_test),
            self.tokenizer.pad_token_id,
        )
        if overrides:
            raise TypeError(f"'rank' takes only k, got {sorted(overrides)}")
        return [answers[i] for i in best.tolist()]

    @torch.no_grad()
    def generate_answers(
        self, question_states: torch.Tensor, question_atts: torch.Tensor, **overrides
    ) -> list:
        """Decode answers from (B, Lq, H) question states, starting at ``[DEC]``."""
        kwargs = {**self.generation, **overrides}
        bos = torch.full(
            (question_states.shape[0], 1),
            self.tokenizer.bos_token_id,
            dtype=torch.long,
            device=self.device,
        )  # (B, 1)
        atts = None if self.attend_question_padding else question_atts
        out = generate(
            self.text_decoder,
            bos,
            question_states,
            image_atts=atts,
            eos_token_id=self.tokenizer.sep_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            **kwargs,
        )
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)

    def _candidate_tensors(self, answer_list: Union[str, Sequence[str], None]) -> tuple:
        """(answers, ids, atts) of a candidate list; the model's own is tokenized once."""
        if answer_list is not None:
            answers = load_answer_list(answer_list)
            return (answers, *self.tokenize_answers(answers))
        if self.answer_list is None:
            raise ValueError(
                "'rank' needs candidate answers: set the model's answer_list or pass answer_list"
            )
        if self._candidates is None or self._candidates[1].device != self.device:
            self._candidates = (self.answer_list, *self.tokenize_answers(self.answer_list))
        return self._candidates


def _check_method(method: str) -> None:
    if method not in ('rank', 'generate'):
        raise ValueError(f"inference must be 'rank' or 'generate', got {method!r}")


def _question(sample: DataSample, index: int) -> str:
    question = sample.get('question')
    if not isinstance(question, str) or not question:
        raise ValueError(
            f'VQA sample {index} of the batch ({sample.metainfo}) has no question (str)'
        )
    return question


def _training_target(sample: DataSample, index: int) -> tuple:
    """(question, answers, weights) of one training sample."""
    question = _question(sample, index)
    answers = sample.get('gt_answer')
    answers = [answers] if isinstance(answers, str) else list(answers or [])
    if not answers or not all(isinstance(a, str) for a in answers):
        raise ValueError(
            f'VQA training sample {index} of the batch ({sample.metainfo}) needs '
            f'gt_answer (str or list of str), got {sample.get("gt_answer")!r}'
        )
    weights = sample.get('gt_answer_weight')
    weights = [1.0 / len(answers)] * len(answers) if weights is None else list(weights)
    if len(weights) != len(answers):
        raise ValueError(
            f'VQA training sample {index} of the batch ({sample.metainfo}): '
            f'{len(answers)} answers but {len(weights)} weights'
        )
    return question, answers, [float(w) for w in weights]
