"""The CapFilt configs: the real ones parse with the paper's settings, the fine-tuning ones
start from a pre-trained checkpoint, and the toy one builds and runs on a small shapes world."""

import json
import os

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from blip_plugin.apis.pipeline import build_inference_pipeline
from blip_plugin.capfilt import AnnotationSource, CapFiltSettings, run_capfilt
from blip_plugin.registry import MODELS, SCOPE

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def config(name: str) -> Config:
    return Config.fromfile(os.path.join(REPO, 'configs', name))


def test_base_capfilt_config_follows_the_paper():
    cfg = config('capfilt/blip-base_capfilt-coco.py')
    assert cfg.captioner.type == 'BlipCaption' and cfg.filter.type == 'BlipRetrieval'
    assert cfg.captioner.vision_encoder.img_size == cfg.filter.vision_encoder.img_size == 384
    s = CapFiltSettings.from_cfg(cfg.capfilt)
    assert (s.strategy, s.top_p, s.num_captions, s.threshold) == ('sample', 0.9, 1, 0.5)
    assert cfg.test_pipeline[1].scale == (384, 384)


@pytest.mark.parametrize('name, model', [('captioner', 'BlipCaption'), ('filter', 'BlipRetrieval')])
def test_fine_tuning_configs_start_from_the_pretrained_model(name, model):
    cfg = config(f'capfilt/blip-base_8xb32_{name}-coco.py')
    assert cfg.model.type == model
    assert cfg.load_from == 'checkpoints/model_base.pth'
    assert cfg.train_dataloader.dataset.type in ('BlipCOCOCaption', 'COCORetrievalKarpathy')


def test_toy_config_builds_and_runs(shapes_world_root, tmp_path):
    cfg = config('toy/blip-tiny_shapes-capfilt.py')
    tokenizer = os.path.join(shapes_world_root, 'tokenizer')
    with DefaultScope.overwrite_default_scope(SCOPE):
        captioner = MODELS.build(dict(cfg.captioner, tokenizer=dict(name_or_path=tokenizer)))
        capfilter = MODELS.build(dict(cfg.filter, tokenizer=dict(name_or_path=tokenizer)))
    web = os.path.join(shapes_world_root, 'annotations', 'web_pairs.json')
    with open(web) as f:
        n = len(json.load(f))
    settings = CapFiltSettings.from_cfg(
        dict(cfg.capfilt, image_root=shapes_world_root, num_workers=0, max_length=16)
    )
    summary = run_capfilt(
        captioner.eval(),
        capfilter.eval(),
        AnnotationSource(web, image_root=settings.image_root),
        str(tmp_path),
        build_inference_pipeline(cfg, captioner),
        settings,
    )
    assert summary['web_images'] == n and summary['synthetic_captions']['total'] == n
