# Parts every BLIP model config shares, defined once (STYLE: dimensions defined once).
# Task model bases read them as `_base_.med_config` / `_base_.blip_data_preprocessor`.

# The MED: BERT-base shaped (official configs/med_config.json), vocabulary of
# bert-base-uncased + [DEC] + [ENC]. `encoder_width` is left out on purpose: the task model
# sets it from its ViT's width (768 for ViT-B, 1024 for ViT-L).
med_config = dict(
    vocab_size=30524,
    hidden_size=768,
    num_layers=12,
    num_heads=12,
    intermediate_size=3072,
    max_position_embeddings=512,
    layer_norm_eps=1e-12,
    dropout=0.1,
)

# CLIP's normalisation, as the official transforms (data/__init__.py); images are loaded
# BGR by LoadImageFromFile, hence bgr_to_rgb.
blip_data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
    std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255],
    bgr_to_rgb=True,
)

# The same for videos: BlipLoadVideo gives (T, 3, H, W) RGB clips, stacked to (B, T, 3, H, W).
blip_video_data_preprocessor = dict(
    type='BlipVideoDataPreprocessor',
    mean=blip_data_preprocessor['mean'],
    std=blip_data_preprocessor['std'],
)
