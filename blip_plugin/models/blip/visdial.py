"""Visual dialog (VisDial v1.0), discriminative: rank 100 candidate answers (paper section
5.5, Figure 11; the official code and LAVIS did not release it, so this follows the paper).

The image goes through the ViT; the caption, with ``[ENC]`` first, through the caption
encoder (an image-grounded MED encoder); image embeddings and caption states are
concatenated into one sequence that the dialog encoder cross-attends to. The dialog encoder
(the image-grounded text encoder, ``[ENC]`` first) reads the dialog history, the question and
one candidate answer, and the ITM head on its ``[ENC]`` state says whether the answer is
right. Training: ITM on the true answer against negatives drawn from the round's other
candidates. Ranking: the image and caption are encoded once per dialog, and the dialog
encoder's cross-attention keys/values of that sequence are computed once and shared by the
candidates of every round (as ``BlipRetrieval.itm_matrix`` shares an image's).
"""

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from ...registry import MODELS
from ..med import MEDConfig, MEDTransformer, load_tokenizer
from ..med.transformer import MEDCache
from .momentum import ALIGNMENT_PARTS, bert_init

__all__ = ['BlipVisDial', 'dialog_context']

# Parts of BLIP checkpoints (pre-training, retrieval) that VisDial does not use.
NON_VISDIAL_PARTS = tuple(p for p in ALIGNMENT_PARTS if p != 'itm_head') + ('text_decoder',)


def dialog_context(history: Sequence, question: str, max_rounds: Optional[int]) -> str:
    """The dialog encoder's context: the last ``max_rounds`` rounds of ``history``
    ([question, answer] pairs; None = all) then the question, as one text."""
    rounds = list(history)
    if max_rounds is not None:
        rounds = rounds[len(rounds) - max_rounds :] if max_rounds > 0 else []
    return ' '.join([f'{q} {a}' for q, a in rounds] + [question])


@MODELS.register_module()
class BlipVisDial(BaseModel):
    """BLIP visual dialog answer ranker.

    Attribute names are the retrieval / pre-training checkpoint's after
    :mod:`blip_plugin.models.convert`: the dialog encoder is ``text_encoder`` and the head
    ``itm_head``, so a pre-trained BLIP initialises them; ``caption_encoder`` starts as a copy
    of ``text_encoder`` when the checkpoint has none.

    Args:
        vision_encoder: config of the ViT (``BlipViT``).
        med_config: :class:`MEDConfig` fields of both encoders (``encoder_width`` defaults to
            the ViT's width; ``vocab_size`` None takes the tokenizer's length).
        tokenizer: kwargs of :func:`load_tokenizer`.
        max_history_rounds: earlier rounds the dialog encoder reads; None = all. Defaults to
            None.
        max_context_len: context tokens kept (the latest). Defaults to 256.
        max_answer_len: answer tokens kept. Defaults to 32.
        max_caption_len: caption tokens kept. Defaults to 40.
        num_negatives: negative candidates per true answer in training. Defaults to 3.
        hard_negatives: how many of a round's other candidates to score (ITM, no gradient)
            to draw the negatives from, by the softmax of their scores (hard negatives,
            most often the answers the model confuses with the true one); -1 scores all,
            0 draws uniformly. Defaults to 0.
        rank_batch_size: candidate sequences per dialog-encoder call when ranking.
            Defaults to 500.
        negative_seed: seed of the generator that draws negatives. Defaults to 0.
        init_std: std of the normal init of both encoders, the caption projection and the
            ITM head (BERT's ``initializer_range``, as ``BlipNLVR``'s); weights a checkpoint
            loads replace it. The official 0.02 suits the 768-wide MED; the 64-wide toy,
            trained from scratch, needs a larger one to use the image (docs/visdial.md).
            Defaults to 0.02.
        data_preprocessor: MMEngine data preprocessor config.
        init_cfg: MMEngine init config.
    """

    unused_weight_prefixes = NON_VISDIAL_PARTS

    def __init__(
        self,
        vision_encoder: dict,
        med_config: dict,
        tokenizer: dict,
        max_history_rounds: Optional[int] = None,
        max_context_len: int = 256,
        max_answer_len: int = 32,
        max_caption_len: int = 40,
        num_negatives: int = 3,
        hard_negatives: int = 0,
        rank_batch_size: int = 500,
        negative_seed: int = 0,
        init_std: float = 0.02,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tokenizer = load_tokenizer(**tokenizer)
        self.vision_encoder = MODELS.build(vision_encoder)
        vision_width = self.vision_encoder.embed_dim
        med = MEDConfig.for_models(med_config, vision_width, len(self.tokenizer))
        longest = max_context_len + max_answer_len + 3  # [ENC] context [SEP] answer [SEP]
        if longest > med.max_position_embeddings or max_caption_len > med.max_position_embeddings:
            raise ValueError(
                f'max_context_len + max_answer_len + 3 = {longest} and max_caption_len = '
                f"{max_caption_len} must fit the MED's {med.max_position_embeddings} positions"
            )
        self.text_encoder = MEDTransformer(med)  # the dialog encoder
        self.caption_encoder = MEDTransformer(med)
        H = med.hidden_size
        # caption states join the image embeddings in one cross-attention sequence
        self.caption_proj = nn.Identity() if H == vision_width else nn.Linear(H, vision_width)
        self.itm_head = nn.Linear(H, 2)
        for part in (self.text_encoder, self.caption_encoder, self.caption_proj, self.itm_head):
            bert_init(part, init_std)
        self.max_history_rounds = max_history_rounds
        self.max_context_len, self.max_answer_len = max_context_len, max_answer_len
        self.max_caption_len = max_caption_len
        self.num_negatives, self.hard_negatives = num_negatives, hard_negatives
        self.rank_batch_size = rank_batch_size
        self._generator = torch.Generator().manual_seed(negative_seed)

    @property
    def device(self) -> torch.device:
        return self.itm_head.weight.device

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        # a BLIP checkpoint without a caption encoder: it starts as the image-grounded text
        # encoder (both are the pre-trained ITM encoder)
        if not any(k.startswith(prefix + 'caption_encoder.') for k in state_dict):
            for key in [k for k in state_dict if k.startswith(prefix + 'text_encoder.')]:
                rest = key[len(prefix + 'text_encoder.') :]
                state_dict[prefix + 'caption_encoder.' + rest] = state_dict[key].clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- stages -------------------------------------------------------------------------------
    def _ids(self, texts: Sequence[str]) -> dict:
        """{text: token ids without [CLS]/[SEP]} of the distinct texts."""
        texts = list(dict.fromkeys(texts))
        return dict(zip(texts, self.tokenizer(texts, add_special_tokens=False)['input_ids']))

    def dialog_tokens(
        self, contexts: Sequence[str], answers: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``[ENC] context [SEP] answer [SEP]`` per (context, answer) pair -> ids (B, L) and
        mask (B, L), right-padded; the context keeps its last ``max_context_len`` tokens."""
        tok = self.tokenizer
        ctx_ids, ans_ids = self._ids(contexts), self._ids(answers)
        rows = [
            [tok.enc_token_id]
            + ctx_ids[c][-self.max_context_len :]
            + [tok.sep_token_id]
            + ans_ids[a][: self.max_answer_len]
            + [tok.sep_token_id]
            for c, a in zip(contexts, answers)
        ]
        L = max(len(r) for r in rows)
        ids = torch.full((len(rows), L), tok.pad_token_id, dtype=torch.long)
        atts = torch.zeros(len(rows), L, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            atts[i, : len(r)] = 1
        return ids.to(self.device), atts.to(self.device)

    def visual_context(
        self, images: torch.Tensor, captions: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 3, H, W) and captions -> the dialog encoder's cross-attention sequence
        (B, 1+N+Lc, D): image embeddings then caption states, and its mask (B, 1+N+Lc)."""
        image_embeds = self.vision_encoder(images)  # (B, 1+N, D)
        tok = self.tokenizer(
            list(captions),
            padding='longest',
            truncation=True,
            max_length=self.max_caption_len,
            return_tensors='pt',
        )
        ids, atts = tok.input_ids.to(self.device), tok.attention_mask.to(self.device)
        ids[:, 0] = self.tokenizer.enc_token_id
        caption = self.caption_encoder(ids, atts, image_embeds)  # (B, Lc, H)
        embeds = torch.cat([image_embeds, self.caption_proj(caption)], dim=1)  # (B, 1+N+Lc, D)
        image_atts = atts.new_ones(image_embeds.shape[:2])
        return embeds, torch.cat([image_atts, atts], dim=1)

    def itm_logits(
        self,
        ids: torch.Tensor,
        atts: torch.Tensor,
        embeds: torch.Tensor,
        embed_atts: torch.Tensor,
        kv: Optional[list] = None,
    ) -> torch.Tensor:
        """ITM logits (B, 2) of dialog sequences (B, L); ``embeds`` (Bi, S, D) / ``embed_atts``
        (Bi, S) may hold fewer rows (B = r * Bi, r consecutive sequences per dialog), and
        ``kv`` (``text_encoder.image_kv(embeds)``) skips projecting them again."""
        mask = embed_atts[:, None, None, :].bool()  # (Bi, 1, 1, S)
        if kv is None:
            kv = self.text_encoder.image_kv(embeds)
        cache = MEDCache(cross_kv=kv, cross_mask=mask)
        h = self.text_encoder(ids, atts, cache=cache)  # (B, L, H)
        return self.itm_head(h[:, 0])

    # -- runner API ---------------------------------------------------------------------------
    def forward(
        self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'loss'
    ):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"mode must be 'loss' or 'predict', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """ITM of each round's true answer (label 1) against ``num_negatives`` of its other
        candidates (label 0); samples are rounds (``VisDialDataset(per_round=True)``)."""
        embeds, embed_atts = self.visual_context(inputs, [s.get('caption') for s in data_samples])
        contexts = [
            dialog_context(s.get('history'), s.get('question'), self.max_history_rounds)
            for s in data_samples
        ]
        n = self.num_negatives
        pools = [self._negative_pool(s) for s in data_samples]
        if self.hard_negatives:
            weights = self._pool_weights(embeds, embed_atts, contexts, pools)
        chosen = []
        for b, (s, pool) in enumerate(zip(data_samples, pools)):
            w = weights[b] if self.hard_negatives else torch.ones(len(pool))
            neg = torch.multinomial(w, n, replacement=False, generator=self._generator)
            chosen.append([s.get('answer_options')[int(s.get('gt_index'))]])
            chosen[-1] += [pool[int(i)] for i in neg]
        ids, atts = self.dialog_tokens(
            [c for c in contexts for _ in range(n + 1)], [a for row in chosen for a in row]
        )
        logits = self.itm_logits(ids, atts, embeds, embed_atts)  # (B * (1+n), 2)
        labels = torch.zeros(len(data_samples), n + 1, dtype=torch.long, device=self.device)
        labels[:, 0] = 1
        return dict(loss_itm=F.cross_entropy(logits.float(), labels.view(-1)))

    def _negative_pool(self, sample) -> list:
        """The candidates negatives are drawn from: the round's other answers, or a random
        ``hard_negatives`` of them."""
        options, gt = sample.get('answer_options'), int(sample.get('gt_index'))
        others = [a for i, a in enumerate(options) if i != gt and a != options[gt]]
        if len(others) < self.num_negatives:
            raise ValueError(f'a round needs > {self.num_negatives} distinct answer options')
        k = self.hard_negatives
        if 0 < k < len(others):
            keep = torch.randperm(len(others), generator=self._generator)[:k]
            others = [others[int(i)] for i in keep]
        return others

    @torch.no_grad()
    def _pool_weights(
        self, embeds: torch.Tensor, embed_atts: torch.Tensor, contexts: list, pools: list
    ) -> torch.Tensor:
        """Softmax over each round's pool of the candidates' ITM scores -> (B, P), CPU."""
        P = len(pools[0])
        if any(len(p) != P for p in pools):
            raise ValueError('hard negatives need the same number of options in every round')
        ids, atts = self.dialog_tokens(
            [c for c in contexts for _ in range(P)], [a for pool in pools for a in pool]
        )
        logits = self.itm_logits(ids, atts, embeds, embed_atts).float()  # (B * P, 2)
        scores = (logits[:, 1] - logits[:, 0]).view(len(pools), P)
        return F.softmax(scores, dim=1).cpu()

    @torch.no_grad()
    def rank(
        self,
        embeds: torch.Tensor,
        embed_atts: torch.Tensor,
        contexts: Sequence[str],
        options: Sequence[Sequence[str]],
    ) -> torch.Tensor:
        """Scores (R, C) of the C candidates of R rounds of one dialog: the ITM logit of
        'match' minus that of 'no match'. ``embeds`` (1, S, D), ``embed_atts`` (1, S): the
        dialog's visual context; its keys/values are computed once for all R * C sequences."""
        kv = self.text_encoder.image_kv(embeds)
        C = len(options[0])
        if any(len(o) != C for o in options):
            raise ValueError('every ranked round needs the same number of candidates')
        pairs = [(c, a) for c, opts in zip(contexts, options) for a in opts]
        scores = torch.empty(len(pairs), device=self.device)
        for start in range(0, len(pairs), self.rank_batch_size):
            chunk = pairs[start : start + self.rank_batch_size]
            ids, atts = self.dialog_tokens([c for c, _ in chunk], [a for _, a in chunk])
            logits = self.itm_logits(ids, atts, embeds, embed_atts, kv=kv).float()
            scores[start : start + len(chunk)] = logits[:, 1] - logits[:, 0]
        return scores.view(len(contexts), C)  # (R, C)

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: list) -> list:
        """Rank the candidates of every round that has them (samples are dialogs,
        ``VisDialDataset(per_round=False)``); sets ``pred_scores`` (R, C) on each sample."""
        embeds, embed_atts = self.visual_context(inputs, [s.get('caption') for s in data_samples])
        for b, s in enumerate(data_samples):
            dialog = s.get('dialog')
            contexts, options = [], []
            for r, rd in enumerate(dialog):
                if rd['answer_options']:
                    history = [[p['question'], p['answer'] or ''] for p in dialog[:r]]
                    contexts.append(
                        dialog_context(history, rd['question'], self.max_history_rounds)
                    )
                    options.append(rd['answer_options'])
            if not options:
                s.pred_scores = torch.empty(0, 0)
                continue
            s.pred_scores = self.rank(
                embeds[b : b + 1], embed_atts[b : b + 1], contexts, options
            ).cpu()
        return data_samples

    # -- plain-typed API ----------------------------------------------------------------------
    @torch.no_grad()
    def rank_answers(
        self,
        images: torch.Tensor,
        caption: str,
        history: Sequence,
        question: str,
        candidates: Sequence[str],
    ) -> torch.Tensor:
        """Scores (C,) of ``candidates`` for ``question`` about one image (1, 3, H, W), given
        its ``caption`` and the earlier rounds ``history`` ([question, answer] pairs)."""
        embeds, atts = self.visual_context(images, [caption])
        context = dialog_context(history, question, self.max_history_rounds)
        return self.rank(embeds, atts, [context], [list(candidates)])[0]
