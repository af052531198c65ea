# The toy BLIP dimensions shared by the shapes-world configs that inherit this file: a 2-layer
# ViT (64 wide, 4x4 patches of 32 px images) and a 2-layer MED of the same width over the
# shapes-world vocabulary. blip-tiny_1xb32_shapes-caption.py spells out the same numbers.
_base_ = ['./blip_common.py']

tiny_vit = dict(
    type='BlipViT', arch=dict(embed_dim=64, depth=2, num_heads=4), img_size=32, patch_size=4
)
tiny_med = dict(
    vocab_size=None,  # from the tokenizer
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    intermediate_size=256,
    max_position_embeddings=64,
    dropout=0.0,
)
tiny_tokenizer = dict(name_or_path='data/shapes_world/tokenizer')
