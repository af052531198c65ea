"""The zoo tables are generated from the metafiles, and every metafile row is true: each model
builds from its config with the parameter count the metafile states."""

import os.path as osp
import runpy

import pytest
from mmengine.config import Config

from blip_plugin.apis.model_index import load_model_index
from blip_plugin.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Counts mmpretrain publishes for the same released models (its BLIP model zoo page).
PUBLISHED = {
    'blip-base_caption': 223971644,
    'blip-base_vqa': 361478972,
    'blip-base_retrieval': 447486979,
    'blip-base_refcoco': 498488636,
    'blip-base_nlvr': 259372034,
}


def test_tables_are_up_to_date() -> None:
    main = runpy.run_path(osp.join(REPO, 'tools/model_zoo.py'), run_name='model_zoo')['main']
    assert main(['--check']) == 0, 'run python tools/model_zoo.py'


@pytest.fixture(scope='module')
def bert_sized_vocab(tmp_path_factory) -> str:
    """A vocab.txt of bert-base-uncased's size (30522), so the real configs build offline."""
    d = tmp_path_factory.mktemp('bert_vocab')
    special = (
        ['[PAD]'] + [f'[unused{i}]' for i in range(99)] + ['[UNK]', '[CLS]', '[SEP]', '[MASK]']
    )
    special += [f'[unused{i}]' for i in range(99, 994)]  # the grounding box bins live here
    words = [f'w{i}' for i in range(30522 - len(special))]
    (d / 'vocab.txt').write_text('\n'.join(special + words) + '\n')
    return str(d)


@pytest.mark.parametrize('name', sorted(load_model_index()))
def test_parameter_count_matches_the_metafile(name: str, bert_sized_vocab: str) -> None:
    info = load_model_index()[name]
    cfg = Config.fromfile(info.config)
    cfg.model.tokenizer.name_or_path = bert_sized_vocab
    for key in ('answer_list',):  # task files the build may read; not needed to count
        cfg.model.pop(key, None)
    model = MODELS.build(cfg.model)
    assert len(model.tokenizer) == 30524  # [DEC] 30522, [ENC] 30523 as the released models
    count = sum(p.numel() for p in model.parameters())
    assert count == info.metadata['Parameters'], (name, count)
    if name in PUBLISHED:
        assert count == PUBLISHED[name]
