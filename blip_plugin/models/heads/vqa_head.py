"""The VQA answer decoder's losses and candidate ranking (paper section 5.3, Figure 5; official
models/blip_vqa.py ``forward(train=True)`` and ``rank_answer``).

The answer decoder is a :class:`MEDDecoder` whose cross-attention reads the question states
(the image-grounded question encoder's output) instead of image embeddings.
"""

from typing import Optional

import torch
import torch.nn.functional as F

from ..med.decoder import MEDDecoder

__all__ = ['weighted_answer_loss', 'rank_answers']


def weighted_answer_loss(
    decoder: MEDDecoder,
    question_states: torch.Tensor,
    question_atts: torch.Tensor,
    answer_ids: torch.Tensor,
    answer_atts: torch.Tensor,
    answer_weights: torch.Tensor,
    answers_per_question: torch.Tensor,
    pad_token_id: int,
) -> torch.Tensor:
    """Official VQA loss: sum over answers of weight * label-smoothed LM loss, / questions.

    Args:
        decoder: the answer decoder.
        question_states: (B, Lq, H) question encoder output.
        question_atts: (B, Lq) question mask.
        answer_ids: (A, La) answers, ``[DEC]`` first, all answers of question b consecutive.
        answer_atts: (A, La) answer mask.
        answer_weights: (A,) weight of each answer (VQAv2: its share of the 10 annotators).
        answers_per_question: (B,) answers of each question (the official ``n``), summing to A.
        pad_token_id: padding id (not predicted).

    Returns:
        The scalar loss.
    """
    B = question_states.shape[0]
    if int(answers_per_question.sum()) != answer_ids.shape[0]:
        raise ValueError(
            f'{answer_ids.shape[0]} answers but answers_per_question sums to '
            f'{int(answers_per_question.sum())}'
        )
    # the official ``n`` repeat: each answer reads its own question's states. The counts vary
    # per question, so rows cannot share keys by a fixed ratio; the states are short (<= 35).
    states = question_states.repeat_interleave(answers_per_question, dim=0)  # (A, Lq, H)
    atts = question_atts.repeat_interleave(answers_per_question, dim=0)  # (A, Lq)
    labels = answer_ids.masked_fill(answer_ids == pad_token_id, -100)
    per_answer = decoder.loss(
        answer_ids, answer_atts, states, labels, image_atts=atts, reduction='none'
    )  # (A,)
    return (answer_weights.to(per_answer.dtype) * per_answer).sum() / B


@torch.no_grad()
def rank_answers(
    decoder: MEDDecoder,
    question_states: torch.Tensor,
    question_atts: Optional[torch.Tensor],
    answer_ids: torch.Tensor,
    answer_atts: torch.Tensor,
    k: int,
    pad_token_id: int,
) -> torch.Tensor:
    """Pick each question's answer from a candidate list (official ``rank_answer``).

    The first answer token's probability shortlists the ``k`` best candidates, which are then
    scored by their whole (label-smoothed, as the official decoder's loss) log-likelihood.
    Batched: one decoder call for the first token of every question and one for all
    ``B * k`` shortlisted candidates, where the k candidates of a question share that
    question's cross-attention keys/values (MED cross-attention takes fewer key rows than
    query rows) instead of k copies of its states.

    Args:
        decoder: the answer decoder.
        question_states: (B, Lq, H) question encoder output.
        question_atts: (B, Lq) question mask, or None for all tokens.
        answer_ids: (C, La) candidate answers, ``[DEC]`` first, ``[SEP]`` last, padded.
        answer_atts: (C, La) candidate mask.
        k: shortlist size (official 128); capped at C.
        pad_token_id: padding id.

    Returns:
        (B,) index into the candidates of each question's answer.
    """
    B = question_states.shape[0]
    C = answer_ids.shape[0]
    k = min(k, C)
    start = answer_ids[:1, :1].expand(B, 1)  # (B, 1) [DEC]
    logits = decoder(start, image_embeds=question_states, image_atts=question_atts)[:, 0]
    first_prob = F.softmax(logits.float(), dim=-1).index_select(1, answer_ids[:, 1])  # (B, C)
    _, topk = first_prob.topk(k, dim=1)  # (B, k)

    ids = answer_ids[topk].flatten(0, 1)  # (B*k, La): question b's k candidates consecutive
    atts = answer_atts[topk].flatten(0, 1)
    keep = atts.any(0)  # drop columns that are padding in every shortlisted candidate
    ids, atts = ids[:, keep], atts[:, keep]
    labels = ids.masked_fill(ids == pad_token_id, -100)
    nll = decoder.loss(
        ids, atts, question_states, labels, image_atts=question_atts, reduction='none'
    )  # (B*k,)
    best = (-nll).view(B, k).argmax(dim=1)  # (B,)
    return topk.gather(1, best[:, None])[:, 0]
