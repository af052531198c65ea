"""End to end: tiny BLIP pre-training on the shapes world's noisy web pairs, then retrieval
fine-tuning, must rank the held-out split far above chance in both directions.

The default run is a small world and few epochs (CI), trained once per session by the
``trained_retrieval`` fixture (tests/e2e/conftest.py), which the zero-shot video test reuses;
the full toy (the numbers in docs/retrieval.md) is marked slow.
"""

import pytest

from blip_plugin.datasets.shapes_world import make_shapes_world


def test_toy_pretrain_then_retrieval_ranks_far_above_chance(trained_retrieval) -> None:
    scores = trained_retrieval.scores
    # chance on 40 test images x 200 captions: R@1 2.5% both ways, mean recall ~13
    # (measured on this project's 2-core CPU: i2t R@1 22.5, t2i R@1 9.5, mean 29.9)
    assert scores['retrieval/txt_r1'] >= 12.5, scores
    assert scores['retrieval/img_r1'] >= 7.5, scores
    assert scores['retrieval/r_mean'] > 25.0, scores


@pytest.mark.slow
def test_toy_pretrain_then_retrieval_full_run(tmp_path, retrieval_recipe) -> None:
    root = str(tmp_path / 'world')
    make_shapes_world(root)
    scores = retrieval_recipe(root, str(tmp_path / 'work'), pre_epochs=10, ft_epochs=3).scores
    # 200 test images x 1000 captions: chance R@1 0.5% both ways
    assert scores['retrieval/txt_r1'] > 15.0, scores
    assert scores['retrieval/img_r1'] > 12.0, scores
