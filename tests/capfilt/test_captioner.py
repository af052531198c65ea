"""The captioner's per-image seeding, its strategies, the filter's rule and the inverse-CDF
draw behind the seeding."""

import pytest
import torch

from blip_plugin.capfilt import CapFilter, Captioner, image_seed, is_kept
from blip_plugin.models.generation import inverse_cdf_draw


def images(n: int) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(3))


def test_a_caption_depends_on_its_image_index_not_on_the_batch(world):
    cap = Captioner(world.captioner, num_captions=2, max_length=10, min_length=6, seed=7)
    x = images(4)
    batch = cap(x, [10, 11, 12, 13])
    assert len(batch) == 4 and all(len(c) == 2 for c in batch)
    assert cap(x[2:3], [12]) == [batch[2]]  # alone equals in the batch
    assert cap(x[[3, 1]], [13, 11]) == [batch[3], batch[1]]  # order does not matter
    assert cap(x[2:3], [99]) != [batch[2]]  # another index, another draw
    other_seed = Captioner(world.captioner, num_captions=2, max_length=10, min_length=6, seed=8)
    assert other_seed(x, [10, 11, 12, 13]) != batch
    with pytest.raises(ValueError, match='one source index per image'):
        cap(x, [1, 2])


def test_beam_and_greedy_strategies(world):
    x = images(2)
    beam = Captioner(world.captioner, num_captions=2, strategy='beam', num_beams=3, max_length=10)
    out = beam(x)
    assert len(out) == 2 and all(len(c) == 2 for c in out)
    assert out == beam(x)  # deterministic without seeds
    greedy = Captioner(world.captioner, strategy='greedy', max_length=10)
    plain = world.captioner.generate_captions(x, strategy='greedy', max_length=10, min_length=10)
    assert greedy(x) == [[c.strip()] for c in plain]
    with pytest.raises(ValueError, match='num_beams'):
        Captioner(world.captioner, num_captions=4, strategy='beam', num_beams=3)
    with pytest.raises(ValueError, match='strategy'):
        Captioner(world.captioner, strategy='nucleus')


def test_image_seeds_differ_and_repeat():
    seeds = {image_seed(0, i) for i in range(1000)}
    assert len(seeds) == 1000 and all(0 <= s < 2**63 for s in seeds)
    assert image_seed(0, 5) == image_seed(0, 5) != image_seed(1, 5)


def test_inverse_cdf_draw():
    probs = torch.tensor([[0.0, 0.5, 0.0, 0.5, 0.0], [0.2, 0.2, 0.2, 0.2, 0.2]])
    u = torch.tensor([0.0, 0.999])
    assert inverse_cdf_draw(probs, u).tolist() == [1, 4]
    # zero-probability ids are never drawn, even at u -> 1; frequencies follow probs
    u = torch.rand(20000, generator=torch.Generator().manual_seed(0))
    p = torch.tensor([0.1, 0.0, 0.6, 0.3, 0.0]).expand(20000, 5)
    counts = torch.bincount(inverse_cdf_draw(p, u), minlength=5).float() / 20000
    assert counts[1] == counts[4] == 0
    assert torch.allclose(counts, p[0], atol=0.02)
    assert inverse_cdf_draw(p[:1], torch.tensor([1.0 - 1e-12])).item() == 3


def test_filter_rule_and_scores(world):
    assert is_kept('a red square', 0.51, 0.5) and not is_kept('a red square', 0.5, 0.5)
    assert not is_kept('  ', 0.99, 0.5)
    filt = CapFilter(world.filter)
    x = images(2)
    scores = filt.scores(x, [['a red square', 'blue circle', 'the left'], ['a green triangle']])
    assert [len(s) for s in scores] == [3, 1]
    # padding a short list does not change a score: each pair scored alone agrees
    alone = world.filter.itm_score(x[1:2], ['a green triangle']).item()
    assert scores[1][0] == pytest.approx(alone, abs=1e-5)
    # texts are cleaned as the training data are before scoring
    assert filt.scores(x[:1], [['A Red Square!!']])[0][0] == pytest.approx(scores[0][0], abs=1e-6)
    with pytest.raises(ValueError, match='threshold'):
        CapFilter(world.filter, threshold=1.0)
