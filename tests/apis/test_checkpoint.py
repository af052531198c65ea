"""Where weights come from: local paths, URLs (cached), Hugging Face hub names (offline here)."""

import shutil

import pytest
import torch

from blip_plugin.apis.checkpoint import is_hf_hub_name, resolve_checkpoint


def test_local_paths_pass_through(tmp_path):
    path = tmp_path / 'w.pth'
    torch.save({}, path)
    assert resolve_checkpoint(path) == str(path)
    assert resolve_checkpoint(str(tmp_path)) == str(tmp_path)  # an HF model directory


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        resolve_checkpoint(str(tmp_path / 'nope.pth'))


@pytest.mark.parametrize(
    'spec, expected',
    [
        ('Salesforce/blip-image-captioning-base', True),
        ('hf://Salesforce/blip-image-captioning-large', True),
        ('work_dirs/epoch_1.pth', False),
        ('model.safetensors', False),
        ('a/b/c', False),
    ],
)
def test_hub_names(spec, expected):
    assert is_hf_hub_name(spec) is expected


def test_hub_name_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(OSError, match='Salesforce/blip-image-captioning-base'):
        resolve_checkpoint('hf://Salesforce/blip-image-captioning-base', cache_dir=str(tmp_path))


def test_url_is_downloaded_once_with_its_hash_checked(tmp_path, monkeypatch):
    source = tmp_path / 'source.pth'
    torch.save({'w': torch.zeros(1)}, source)
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        shutil.copy(source, dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
    url = 'https://example.org/weights/blip-base_coco-caption_20230419-a5b71af3.pth'
    cache = tmp_path / 'cache'
    first = resolve_checkpoint(url, cache_dir=str(cache))
    assert resolve_checkpoint(url, cache_dir=str(cache)) == first
    assert first == str(cache / 'blip-base_coco-caption_20230419-a5b71af3.pth')
    assert calls == [(url, 'a5b71af3')]  # once, with the hash from the file name
    resolve_checkpoint(
        'https://example.org/model_base_caption_capfilt_large.pth', cache_dir=str(cache)
    )
    assert calls[-1][1] is None


def test_failed_download_names_the_url(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise ConnectionError('offline')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fail)
    with pytest.raises(OSError, match='example.org/x.pth'):
        resolve_checkpoint('https://example.org/x.pth', cache_dir=str(tmp_path))
