"""inference_model / get_model / init_model on a tiny captioner written to disk (conftest)."""

import sys

import mmcv
import numpy as np
import pytest
import torch
from PIL import Image

from blip_plugin import get_model, inference_model, init_model
from blip_plugin.apis import TASKS, task_of
from blip_plugin.apis.pipeline import inference_pipeline_cfg


@pytest.fixture(scope='module')
def model(tiny):
    return init_model(tiny.config, checkpoint=tiny.checkpoint)


def test_config_and_checkpoint_give_a_caption(tiny, model):
    out = inference_model(tiny.config, tiny.images[0], checkpoint=tiny.checkpoint, device='cpu')
    assert isinstance(out, dict) and set(out) == {'pred_caption'}
    assert isinstance(out['pred_caption'], str) and out['pred_caption']
    # the checkpoint was loaded: same caption as the model built with it
    assert out == inference_model(model, tiny.images[0])


def test_checkpoint_weights_are_loaded(tiny, model):
    saved = torch.load(tiny.checkpoint, weights_only=True)['state_dict']
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, saved[key], rtol=0, atol=0, msg=key)
    assert not model.training and model.cfg.model.type == 'BlipCaption'


def test_list_input_gives_a_list_and_batching_changes_nothing(tiny, model):
    one_by_one = [inference_model(model, path) for path in tiny.images]
    batched = inference_model(model, tiny.images, batch_size=3)
    assert isinstance(batched, list) and len(batched) == len(tiny.images)
    assert batched == one_by_one
    assert inference_model(model, tiny.images, batch_size=2) == one_by_one
    assert inference_model(model, tuple(tiny.images[:1])) == one_by_one[:1]


def test_arrays_pil_images_and_paths_agree(tiny, model):
    path = tiny.images[1]
    expected = inference_model(model, path)
    bgr = mmcv.imread(path)  # mmcv's convention: BGR
    assert inference_model(model, bgr) == expected
    assert inference_model(model, torch.from_numpy(bgr)) == expected
    assert inference_model(model, Image.open(path)) == expected
    assert inference_model(model, [bgr, path]) == [expected, expected]


def test_grey_array_is_accepted(model):
    grey = np.random.default_rng(1).integers(0, 256, (33, 35), dtype=np.uint8)
    assert isinstance(inference_model(model, grey)['pred_caption'], str)


def test_generation_overrides_reach_the_model(tiny, model):
    greedy = inference_model(model, tiny.images[0], strategy='greedy', max_length=8)
    assert isinstance(greedy['pred_caption'], str)
    sampled = inference_model(model, tiny.images, strategy='sample', top_p=0.9, max_length=8)
    assert len(sampled) == len(tiny.images)


def test_config_test_pipeline_is_used_without_its_loader(tiny):
    from mmengine.config import Config

    cfg = Config.fromfile(tiny.config_pipeline)
    m = init_model(cfg, tiny.checkpoint)
    types = [t['type'] for t in inference_pipeline_cfg(m.cfg, m)]
    assert types == ['Resize', 'PackInputs']
    out = inference_model(m, tiny.images)
    assert out == inference_model(init_model(tiny.config, tiny.checkpoint), tiny.images)


def test_default_pipeline_resizes_to_the_vit_size(model):
    cfg = inference_pipeline_cfg(None, model)
    assert cfg[0]['type'] == 'Resize' and cfg[0]['scale'] == (32, 32)


def test_get_model_from_config_with_overrides(tiny):
    m = get_model(
        tiny.config, pretrained=tiny.checkpoint, generation=dict(num_beams=1, strategy='greedy')
    )
    assert m.generation['strategy'] == 'greedy' and m.model_info is None
    assert task_of(m) == 'Image Caption' and 'Image Caption' in TASKS


def test_missing_image_names_the_path(tiny, model):
    missing = str(tiny.root / 'no_such_image.jpg')
    with pytest.raises(FileNotFoundError, match='no_such_image.jpg'):
        inference_model(model, missing)
    with pytest.raises(FileNotFoundError, match='image 1: .*no_such_image.jpg'):
        inference_model(model, [tiny.images[0], missing])


@pytest.mark.parametrize(
    'shape, hint',
    [((3, 32, 32), 'channels first'), ((2, 32, 32, 3), 'a batch'), ((32, 32, 4), r'\(32, 32, 4\)')],
)
def test_wrong_shape_array_is_a_clear_error(model, shape, hint):
    with pytest.raises(ValueError, match=hint):
        inference_model(model, np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match=hint):
        inference_model(model, torch.zeros(shape, dtype=torch.uint8))


def test_float_array_and_unknown_input_kinds(model):
    with pytest.raises(ValueError, match='uint8'):
        inference_model(model, np.zeros((32, 32, 3), np.float32))
    with pytest.raises(TypeError, match='int'):
        inference_model(model, 42)
    with pytest.raises(TypeError, match='positional'):
        inference_model(model, np.zeros((32, 32, 3), np.uint8), 'a question?')


def test_unknown_model_name_suggests_close_names(tiny):
    with pytest.raises(ValueError, match=r'blip-base_caption'):
        inference_model('blip-base_captoin', tiny.images[0])
    with pytest.raises(ValueError, match='unknown model name'):
        get_model('resnet50')


def test_zoo_name_builds_its_config_with_its_test_pipeline(tiny):
    """The name -> metafile -> config -> test pipeline path, shrunk by cfg_options (the real
    sizes need bert-base-uncased's vocabulary and the released weights: no network here)."""
    tiny_opts = {
        'model.vision_encoder': dict(
            _delete_=True,
            type='BlipViT',
            img_size=32,
            patch_size=8,
            arch=dict(embed_dim=32, depth=2, num_heads=2),
        ),
        'model.text_decoder.config': dict(
            vocab_size=tiny.vocab,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        ),
        'model.tokenizer.name_or_path': str(tiny.tokenizer),
        'test_dataloader.dataset.pipeline.1.scale': (32, 32),
    }
    m = get_model('blip-base_caption', cfg_options=tiny_opts)
    assert m.model_info.name == 'blip-base_caption'
    assert [t['type'] for t in inference_pipeline_cfg(m.cfg, m)] == ['Resize', 'PackInputs']
    out = inference_model(
        'blip-base_caption', tiny.images[0], checkpoint=False, cfg_options=tiny_opts, device='cpu'
    )
    assert isinstance(out['pred_caption'], str)


def test_missing_config_and_checkpoint_are_named(tiny):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        init_model(str(tiny.root / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_model(tiny.config, checkpoint=str(tiny.root / 'nope.pth'))


def test_mmpretrain_models_and_engine_stay_unimported(tiny, model):
    inference_model(tiny.config, tiny.images, checkpoint=tiny.checkpoint)
    loaded = [
        m
        for m in sys.modules
        if m.split('.')[:2] in (['mmpretrain', 'models'], ['mmpretrain', 'engine'])
    ]
    assert loaded == []
