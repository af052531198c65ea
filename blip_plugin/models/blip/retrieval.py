"""Image-text retrieval: ITC + ITM fine-tuning and ITC-then-ITM-re-rank evaluation
(paper section 5.1; official models/blip_retrieval.py and train_retrieval.py).

Training targets count every text of the same image as a positive (``image_idx`` of the data
samples, ``idx_queue``). Evaluation ranks all pairs of the split by ITC similarity, then
re-scores the top ``k_test`` of every image and of every text with ITM. The re-rank is
grouped by image: one image's cross-attention keys/values are computed once and shared by
all its candidate texts, and a pair wanted by both directions is scored once.
"""

from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather_object
from mmengine.logging import MMLogger

from ...registry import MODELS
from ..heads.itc import all_reduce_sum, concat_all_gather, enqueue, get_dist_info, itc_loss
from ..heads.itm import itm_logits
from .momentum import MomentumAlignBase, ramped_alpha

__all__ = ['BlipRetrieval', 'fill_training_state']

FEATURE_KEYS = (
    'image_idx',
    'image_feat',
    'text_idx',
    'text_image_idx',
    'text_feat',
    'text_ids',
    'text_atts',
)


def fill_training_state(model: MomentumAlignBase, state_dict: dict, prefix: str = '') -> None:
    """Complete, in place, a checkpoint that holds only the inference parts (Hugging Face
    ``BlipForImageTextRetrieval``: ViT, text encoder, projections, ITM head).

    A momentum twin the checkpoint lacks entirely starts as a copy of its online module, as
    the official model's ``copy_params`` at construction; ``temp`` and the feature queues the
    checkpoint lacks keep the model's initial values. Nothing is filled unless the online
    module of a twin is in the checkpoint, so a checkpoint missing real parts still fails.
    """
    filled = []
    for online, twin in model.momentum_pairs:
        names = {m: n for n, m in model.named_children()}
        src, dst = prefix + names[online] + '.', prefix + names[twin] + '.'
        if any(k.startswith(dst) for k in state_dict):
            continue
        copies = {dst + k[len(src) :]: v for k, v in state_dict.items() if k.startswith(src)}
        if copies:
            state_dict.update(copies)
            filled.append(names[twin])
    if not filled:
        return
    own = dict(model.named_buffers(recurse=False))
    own['temp'] = model.temp.detach()
    for name in ('temp', 'image_queue', 'text_queue', 'idx_queue', 'ptr_queue'):
        if name in own and prefix + name not in state_dict:
            state_dict[prefix + name] = own[name].clone()
            filled.append(name)
    MMLogger.get_current_instance().info(
        'the checkpoint holds no training state (momentum encoders, temp, queues): '
        f'{filled} start from the online modules and initial values (official copy_params)'
    )


@MODELS.register_module()
class BlipRetrieval(MomentumAlignBase):
    """BLIP image-text retrieval.

    Args:
        vision_encoder, med_config, tokenizer: as :class:`MomentumAlignBase`.
        k_test: candidates re-ranked by ITM per query (official: 256 COCO, 128 Flickr30k).
            Defaults to 256.
        itm_batch_size: texts per ITM call in the re-rank. Defaults to 256.
        **kwargs: the rest of :class:`MomentumAlignBase` (``embed_dim``, ``queue_size``,
            ``momentum``, ``alpha``, ``alpha_warmup_epochs``, ``max_txt_len``,
            ``negative_all_rank``, ``itm_seed``, ``data_preprocessor``, ``init_cfg``).
    """

    unused_weight_prefixes = ('text_decoder',)

    def __init__(
        self,
        vision_encoder: dict,
        med_config: dict,
        tokenizer: dict,
        k_test: int = 256,
        itm_batch_size: int = 256,
        **kwargs,
    ) -> None:
        super().__init__(vision_encoder, med_config, tokenizer, **kwargs)
        self.register_buffer('idx_queue', torch.full((1, self.queue_size), -100))
        self.k_test, self.itm_batch_size = k_test, itm_batch_size

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        # a pre-training checkpoint has no image ids in its queue: start with none
        if prefix + 'image_queue' in state_dict and prefix + 'idx_queue' not in state_dict:
            state_dict[prefix + 'idx_queue'] = self.idx_queue.clone()
        fill_training_state(self, state_dict, prefix)
        if prefix + 'queue_ptr' in state_dict:
            state_dict[prefix + 'ptr_queue'] = state_dict.pop(prefix + 'queue_ptr')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- runner API ---------------------------------------------------------------------------
    def forward(
        self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'loss'
    ):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: list, alpha: Optional[float] = None) -> dict:
        """ITC + ITM of images (B, 3, H, W) with one caption each (``gt_caption``) and the
        index of their image (``image_idx``); texts of one image are all positives."""
        texts = [s.get('gt_caption') for s in data_samples]
        if any(not isinstance(t, str) for t in texts):
            raise ValueError('retrieval training samples need one caption each (gt_caption)')
        idx = torch.tensor([int(s.get('image_idx')) for s in data_samples], device=self.device)
        alpha = ramped_alpha(self.alpha, self.alpha_warmup_epochs) if alpha is None else alpha
        with torch.no_grad():
            self.temp.clamp_(0.001, 0.5)
        input_ids, atts = self.tokenize(texts)

        image_embeds, image_feat = self.image_features(inputs)
        text_feat = self.text_features(input_ids, atts)
        image_feat_m, text_feat_m = self.momentum_features(inputs, input_ids, atts)
        image_feat_m_g = concat_all_gather(image_feat_m)  # (B_g, E)
        text_feat_m_g = concat_all_gather(text_feat_m)
        idx_g = concat_all_gather(idx)  # (B_g,)
        image_bank = torch.cat([image_feat_m_g.t(), self.image_queue.clone()], dim=1)
        text_bank = torch.cat([text_feat_m_g.t(), self.text_queue.clone()], dim=1)
        idx_all = torch.cat([idx_g, self.idx_queue[0]])  # (B_g + Q,)
        pos = (idx[:, None] == idx_all[None]).float()  # (B, B_g + Q)
        loss_itc, _, _ = itc_loss(
            image_feat,
            text_feat,
            image_feat_m,
            text_feat_m,
            image_bank,
            text_bank,
            self.temp,
            pos / pos.sum(1, keepdim=True),
            alpha,
        )
        enqueue(
            [self.image_queue, self.text_queue, self.idx_queue],
            self.ptr_queue,
            [image_feat_m_g, text_feat_m_g, idx_g[:, None]],
        )

        # ITM: negatives weighted by online similarity, never a text of the same image
        with torch.no_grad():
            q_image, q_text = self.gather_queries(image_feat, text_feat)
            q_idx = idx_g if self.negative_all_rank else idx
            sim_i2t = q_image @ q_text.t() / self.temp  # (Bq, Bq)
            positive = q_idx[:, None] == q_idx[None]
        loss_itm = self.itm_loss(
            self.encoder_ids(input_ids), atts, image_embeds, sim_i2t, sim_i2t.t(), positive, eps=0.0
        )
        return dict(loss_itc=loss_itc, loss_itm=loss_itm)

    @torch.no_grad()
    def extract_feat(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """Features of an evaluation batch: images (B, 3, H, W) with ``image_idx`` and their
        texts (``gt_caption``: list of str, ``text_idx``: list of int, split-wide indices).

        Returns:
            dict of ``image_idx`` (B,), ``image_embeds`` (B, 1+N, D), ``image_feat`` (B, E),
            ``text_idx`` (T,), ``text_image_idx`` (T,), ``text_feat`` (T, E), ``text_ids``
            (T, L) with ``[ENC]`` first, ``text_atts`` (T, L).
        """
        texts, text_idx, owner = [], [], []
        for s in data_samples:
            caps, ids = s.get('gt_caption'), s.get('text_idx')
            caps = [caps] if isinstance(caps, str) else list(caps)
            ids = [ids] if isinstance(ids, int) else list(ids)
            if len(caps) != len(ids):
                raise ValueError(
                    f'sample {s.get("image_idx")}: {len(caps)} captions but {len(ids)} text_idx'
                )
            texts += caps
            text_idx += ids
            owner += [int(s.get('image_idx'))] * len(caps)
        image_embeds, image_feat = self.image_features(inputs)
        input_ids, atts = self.tokenize(texts)
        return dict(
            image_idx=torch.tensor([int(s.get('image_idx')) for s in data_samples]),
            image_embeds=image_embeds,
            image_feat=image_feat,
            text_idx=torch.tensor(text_idx),
            text_image_idx=torch.tensor(owner),
            text_feat=self.text_features(input_ids, atts),
            text_ids=self.encoder_ids(input_ids),
            text_atts=atts,
        )

    def predict(self, inputs: torch.Tensor, data_samples: list) -> list:
        """Retrieval within the batch (the split-wide evaluation is
        :class:`BlipRetrievalValLoop`): each sample gets ``i2t_score`` over the batch's texts."""
        feats = self.extract_feat(inputs, data_samples)
        # re-index to batch positions
        feats['text_idx'] = torch.arange(len(feats['text_idx']))
        remap = {int(i): n for n, i in enumerate(feats['image_idx'])}
        feats['text_image_idx'] = torch.tensor([remap[int(i)] for i in feats['text_image_idx']])
        feats['image_idx'] = torch.arange(len(data_samples))
        scores = self.retrieval_scores(feats, distributed=False)
        for sample, row in zip(data_samples, scores['i2t_scores']):
            sample.i2t_score = row
        return data_samples

    # -- split-wide evaluation ----------------------------------------------------------------
    @torch.no_grad()
    def retrieval_scores(self, feats: dict, distributed: bool = True) -> dict:
        """Score matrices of a whole split from this rank's features (see
        :meth:`extract_feat`, concatenated over its batches; ``image_embeds`` may be on the
        CPU). All ranks call this; each re-ranks the images it extracted.

        Returns (identical on every rank):
            ``i2t_scores`` (I, T) and ``t2i_scores`` (T, I): ITM logit + ITC similarity for
            the top ``k_test`` candidates of each query, -100 elsewhere (official
            ``evaluation``); ``txt2img`` (T,) long and ``img2txt`` (list of lists).
        """
        world = get_dist_info()[1] if distributed else 1
        rank = get_dist_info()[0] if distributed else 0
        small = {k: feats[k].cpu() for k in FEATURE_KEYS}
        parts = all_gather_object(small) if world > 1 else [small]
        n_img = int(max(int(p['image_idx'].max()) for p in parts if len(p['image_idx']))) + 1
        n_txt = int(max(int(p['text_idx'].max()) for p in parts if len(p['text_idx']))) + 1
        dev = self.device
        image_feat = torch.zeros(n_img, parts[0]['image_feat'].shape[1], device=dev)
        text_feat = torch.zeros(n_txt, image_feat.shape[1], device=dev)
        text_ids = torch.zeros(n_txt, parts[0]['text_ids'].shape[1], dtype=torch.long, device=dev)
        text_atts = torch.zeros_like(text_ids)
        txt2img = torch.full((n_txt,), -1, dtype=torch.long)
        owner = torch.full((n_img,), -1, dtype=torch.long)  # the first rank holding each image
        for r, p in enumerate(parts):  # the sampler's padding repeats a few samples: harmless
            image_feat[p['image_idx'].to(dev)] = p['image_feat'].to(dev, torch.float)
            text_feat[p['text_idx'].to(dev)] = p['text_feat'].to(dev, torch.float)
            text_ids[p['text_idx'].to(dev)] = p['text_ids'].to(dev)
            text_atts[p['text_idx'].to(dev)] = p['text_atts'].to(dev)
            txt2img[p['text_idx']] = p['text_image_idx']
            new = p['image_idx'][owner[p['image_idx']] == -1]
            owner[new] = r
        if (owner < 0).any() or (txt2img < 0).any():
            raise ValueError('image_idx / text_idx of the split are not contiguous from 0')

        sims = image_feat @ text_feat.t()  # (n_img, n_txt) cosine similarities
        top_i2t = sims.topk(min(self.k_test, n_txt), dim=1).indices  # (n_img, k)
        top_t2i = sims.t().topk(min(self.k_test, n_img), dim=1).indices  # (n_txt, k)
        in_i2t = torch.zeros(n_img, n_txt, dtype=torch.bool, device=dev).scatter_(1, top_i2t, True)
        in_t2i = torch.zeros(n_txt, n_img, dtype=torch.bool, device=dev).scatter_(1, top_t2i, True)
        wanted = in_i2t | in_t2i.t()  # (n_img, n_txt): pairs either direction re-ranks

        itm = torch.zeros(n_img, n_txt, device=dev)
        for row, i in enumerate(feats['image_idx'].tolist()):
            if int(owner[i]) != rank:
                continue
            embeds = feats['image_embeds'][row : row + 1].to(dev)  # (1, 1+N, D)
            kv = self.text_encoder.image_kv(embeds)  # once per image
            cand = wanted[i].nonzero().squeeze(1)
            for chunk in cand.split(self.itm_batch_size):
                L = int(text_atts[chunk].sum(1).max())  # trim common padding
                logits = itm_logits(
                    self.text_encoder,
                    self.itm_head,
                    text_ids[chunk, :L],
                    text_atts[chunk, :L],
                    embeds,
                    image_kv=kv,
                )
                itm[i, chunk] = logits[:, 1].float()
        if world > 1:
            itm = all_reduce_sum(itm)  # every pair was scored by exactly one rank
        score = itm + sims
        img2txt: list = [[] for _ in range(n_img)]
        for t, i in enumerate(txt2img.tolist()):
            img2txt[i].append(t)
        return dict(
            i2t_scores=torch.where(in_i2t, score, -100.0).cpu(),
            t2i_scores=torch.where(in_t2i, score.t(), -100.0).cpu(),
            txt2img=txt2img,
            img2txt=img2txt,
        )

    # -- plain-typed API ----------------------------------------------------------------------
    @torch.no_grad()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, E) normalised ITC features."""
        return self.image_features(images)[1]

    @torch.no_grad()
    def encode_text(self, texts: list) -> torch.Tensor:
        """T texts -> (T, E) normalised ITC features."""
        return self.text_features(*self.tokenize(texts))

    @torch.no_grad()
    def itc_similarity(self, images: torch.Tensor, texts: list) -> torch.Tensor:
        """Cosine similarities (B, T) of B images and T texts."""
        return self.encode_image(images) @ self.encode_text(texts).t()

    @torch.no_grad()
    def itm_matrix(self, images: torch.Tensor, texts: list) -> torch.Tensor:
        """Match probabilities (B, T) of every one of B images with every one of T texts.

        Each image's cross-attention keys/values are computed once for all texts, which are
        scored ``itm_batch_size`` at a time.
        """
        ids, atts = self.tokenize(texts)
        ids = self.encoder_ids(ids)
        image_embeds = self.image_features(images)[0]  # (B, 1+N, D); videos: (B, T*(1+N), D)
        probs = torch.zeros(images.shape[0], len(texts), device=self.device)
        for b in range(images.shape[0]):
            embeds = image_embeds[b : b + 1]  # (1, 1+N, D)
            kv = self.text_encoder.image_kv(embeds)
            for chunk in torch.arange(len(texts), device=self.device).split(self.itm_batch_size):
                L = int(atts[chunk].sum(1).max())  # trim common padding
                logits = itm_logits(
                    self.text_encoder,
                    self.itm_head,
                    ids[chunk, :L],
                    atts[chunk, :L],
                    embeds,
                    image_kv=kv,
                )
                probs[b, chunk] = F.softmax(logits.float(), dim=1)[:, 1]
        return probs

    @torch.no_grad()
    def itm_score(self, images: torch.Tensor, texts: list) -> torch.Tensor:
        """Match probability of (image, text) pairs: B images and B texts -> (B,), or
        r * B texts, r consecutive per image -> (r * B,) (each image encoded once)."""
        B = images.shape[0]
        if len(texts) % B:
            raise ValueError(f'{len(texts)} texts cannot be split among {B} images')
        ids, atts = self.tokenize(texts)
        image_embeds = self.image_features(images)[0]
        logits = itm_logits(
            self.text_encoder, self.itm_head, self.encoder_ids(ids), atts, image_embeds
        )
        return F.softmax(logits.float(), dim=1)[:, 1]
