"""The retrieval configs load, hold the official recipe's values (configs/retrieval_coco.yaml,
retrieval_flickr.yaml) and build (on the meta device: no memory, no download)."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from blip_plugin.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
# config -> (ViT, ckpt_layer, lr, train batch, test batch, k_test, negative_all_rank, test data)
RECIPES = {
    'blip-base_8xb32_retrieval': ('base', 4, 1e-5, 32, 64, 256, True, 'coco_karpathy_test'),
    'blip-large_8xb16_retrieval': ('large', 12, 5e-6, 16, 32, 256, True, 'coco_karpathy_test'),
    'blip-base_8xb32_retrieval_flickr30k': ('base', 4, 1e-5, 32, 64, 128, False, 'flickr30k_test'),
    'blip-large_8xb16_retrieval_flickr30k': (
        'large',
        10,
        5e-6,
        16,
        32,
        128,
        False,
        'flickr30k_test',
    ),
    'blip-base_8xb32_retrieval_flickr30k-zeroshot': (
        'base',
        4,
        None,
        None,
        64,
        128,
        False,
        'flickr30k_test',
    ),
    'blip-large_8xb16_retrieval_flickr30k-zeroshot': (
        'large',
        10,
        None,
        None,
        32,
        128,
        False,
        'flickr30k_test',
    ),
}


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_retrieval_config_holds_the_official_recipe(name: str, monkeypatch, tmp_path) -> None:
    vit, ckpt_layer, lr, train_bs, test_bs, k_test, all_rank, test_ann = RECIPES[name]
    cfg = Config.fromfile(str(ROOT / 'configs/blip' / f'{name}.py'))
    model = cfg.model
    assert model.type == 'BlipRetrieval'
    assert model.vision_encoder.arch == vit and model.vision_encoder.img_size == 384
    assert model.vision_encoder.grad_ckpt and model.vision_encoder.ckpt_layer == ckpt_layer
    assert (model.k_test, model.negative_all_rank) == (k_test, all_rank)
    assert model.queue_size == 57600 and model.alpha == 0.4
    assert Path(cfg.test_dataloader.dataset.ann_file).stem == test_ann
    assert cfg.test_dataloader.batch_size == test_bs
    if lr is None:  # evaluation only
        assert cfg.train_dataloader is None and cfg.train_cfg is None and cfg.val_cfg is None
    else:
        assert cfg.optim_wrapper.optimizer.lr == lr
        assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
        assert cfg.train_dataloader.batch_size == train_bs
        assert cfg.train_cfg.max_epochs == 6
    # it builds: a tokenizer of bert-base-uncased's shape, no download
    special = ['[PAD]'] + [f'[unused{i}]' for i in range(99)] + ['[UNK]', '[CLS]', '[SEP]']
    words = special + ['[MASK]'] + [f'w{i}' for i in range(30522 - len(special) - 1)]
    (tmp_path / 'vocab.txt').write_text('\n'.join(words) + '\n')
    cfg.model.tokenizer.name_or_path = str(tmp_path)
    # the ViT reads its drop-path rates back with .tolist(): keep that one tensor real
    linspace = torch.linspace
    monkeypatch.setattr(torch, 'linspace', lambda *a, **k: linspace(*a, **{**k, 'device': 'cpu'}))
    with torch.device('meta'):
        built = MODELS.build(cfg.model)
    assert len(built.vision_encoder.blocks) == {'base': 12, 'large': 24}[vit]
    assert built.k_test == k_test
