"""Shared test setup: no network, small fixtures.

Every hub call must fail at once instead of hanging, so the offline switches are set before
transformers or huggingface_hub are imported anywhere.
"""

import os

os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['TRANSFORMERS_OFFLINE'] = '1'
os.environ.setdefault('OMP_NUM_THREADS', '2')


# Appended for the shapes world (tests/datasets): one small world per test session.
import pytest  # noqa: E402


@pytest.fixture(scope='session')
def shapes_world_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small shapes world (64 train / 16 val / 16 test images, 64 px), generated once."""
    from blip_plugin.datasets.shapes_world import make_shapes_world

    root = tmp_path_factory.mktemp('shapes_world')
    make_shapes_world(str(root), num_train=64, num_val=16, num_test=16)
    return str(root)
