"""The MED decoder: KV-cache decoding, image keys/values shared by beams, the LM loss."""

import pytest
import torch
import torch.nn.functional as F

from blip_plugin.models.med import MEDCache, MEDDecoder

V, W, N_IMG = 50, 24, 9


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """Tiny models: extra threads only add synchronisation, and stall on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='module')
def decoder() -> MEDDecoder:
    torch.manual_seed(0)
    dec = MEDDecoder(
        dict(
            vocab_size=V,
            hidden_size=32,
            num_layers=2,
            num_heads=4,
            intermediate_size=64,
            max_position_embeddings=32,
            encoder_width=W,
        )
    )
    with torch.no_grad():  # larger weights than BERT init, so that every input matters
        for p in dec.parameters():
            if p.ndim == 2:
                p.normal_(0, 0.3)
    return dec.eval()


def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """(3, 8) ids with right padding of 0, 3 and 5 tokens, and their mask."""
    ids = torch.randint(1, V, (3, 8))
    mask = torch.ones(3, 8, dtype=torch.long)
    mask[1, 5:] = 0
    mask[2, 3:] = 0
    return ids.masked_fill(mask == 0, 0), mask


def test_incremental_decoding_equals_full_forward(decoder):
    torch.manual_seed(1)
    ids, mask = padded_batch()
    images = torch.randn(3, N_IMG, W)
    with torch.no_grad():
        full = decoder(ids, mask, images)  # (3, 8, V)
        cache = MEDCache()
        steps = [decoder(ids[:, :3], mask[:, :3], images, cache=cache)]
        for t in range(3, 8):
            steps.append(decoder(ids[:, t : t + 1], mask[:, : t + 1], cache=cache))
    inc = torch.cat(steps, dim=1)
    keep = mask.bool()  # padded positions predict nothing
    assert (inc[keep] - full[keep]).abs().max() < 1e-5
    assert cache.length == 8


def test_shared_image_kv_equals_repeated_images(decoder):
    """r beams per image reading one copy of its keys/values == r copies of the image."""
    torch.manual_seed(2)
    r, B = 3, 2
    ids = torch.randint(1, V, (B * r, 6))
    images = torch.randn(B, N_IMG, W)
    atts = torch.ones(B, N_IMG, dtype=torch.long)
    atts[1, 5:] = 0
    with torch.no_grad():
        ref = decoder(
            ids,
            image_embeds=images.repeat_interleave(r, 0),
            image_atts=atts.repeat_interleave(r, 0),
        )
        shared = decoder(ids, image_embeds=images, image_atts=atts)
        assert (shared - ref).abs().max() < 1e-5
        # and through a cache, reordered as beam search does
        cache = MEDCache()
        decoder(ids[:, :4], image_embeds=images, image_atts=atts, cache=cache)
        perm = torch.tensor([2, 0, 0, 4, 5, 3])  # beams stay with their image
        cache.reorder(perm)
        step = decoder(ids[perm, 4:5], cache=cache)
        again = decoder(
            torch.cat([ids[perm, :4], ids[perm, 4:5]], 1),
            image_embeds=images.repeat_interleave(r, 0),
            image_atts=atts.repeat_interleave(r, 0),
        )
        assert (step[:, 0] - again[:, -1]).abs().max() < 1e-5
    assert cache.cross_kv[0][0].shape[0] == B  # computed once per image


def test_loss_ignores_minus_100_and_smooths_like_cross_entropy(decoder):
    torch.manual_seed(3)
    ids, mask = padded_batch()
    images = torch.randn(3, N_IMG, W)
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :2] = -100  # a prompt
    with torch.no_grad():
        logits = decoder(ids, mask, images)[:, :-1]  # (3, 7, V): position t predicts t + 1
        target = labels[:, 1:]
        for smoothing in (0.0, 0.1):
            decoder.label_smoothing = smoothing
            ref = F.cross_entropy(
                logits.reshape(-1, V),
                target.reshape(-1),
                ignore_index=-100,
                label_smoothing=smoothing,
            )
            assert torch.allclose(decoder.loss(ids, mask, images, labels), ref, atol=1e-5)
            tok = F.cross_entropy(
                logits.transpose(1, 2),
                target,
                ignore_index=-100,
                label_smoothing=smoothing,
                reduction='none',
            )  # (3, 7)
            per_seq = decoder.loss(ids, mask, images, labels, reduction='none')
            assert torch.allclose(per_seq, tok.sum(1), atol=1e-5)
        decoder.label_smoothing = 0.1
        # what sits at an ignored position does not matter
        other = ids.clone()
        other[1, 6] = (other[1, 6] + 1) % V  # padding, label -100
        assert torch.equal(
            decoder.loss(other, mask, images, labels), decoder.loss(ids, mask, images, labels)
        )
