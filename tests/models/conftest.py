"""Fixtures of the weight-loading tests (tests/models/test_weights*.py)."""

import logging

import pytest
from mmengine.logging import MMLogger

from .weight_files import WORDS


@pytest.fixture
def vocab_dir(tmp_path):
    d = tmp_path / 'bert-tiny-vocab'
    d.mkdir()
    (d / 'vocab.txt').write_text('\n'.join(WORDS) + '\n')
    return str(d)


@pytest.fixture
def warnings_seen():
    """Warnings the current MMLogger emits during the test."""
    records: list = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
