"""Proof that pre-training on W ranks computes what one process computes on the global batch.

Two gloo processes (forked) each take half of a fixed batch, compute the
ITC + ITM + LM losses, back-propagate and average gradients as DDP does; one process runs
the whole batch. Two optimisation steps, so the second one also meets the queue and the
momentum encoders that the first one updated. Losses, gradients and queues agree within
1e-5.
"""

import multiprocessing as mp

import torch

WORLD = 2
STEPS = 2
LR = 0.5
CAPTIONS = [
    'a red circle',
    'the blue square on the left',
    'a small green triangle',
    'big red square above a circle',
    'a blue circle',
    'green square right of a circle',
    'the small triangle',
    'a big blue triangle below the square',
]
WORDS = (
    'a an the red blue green circle square triangle on left right of above below big small'
).split()


def write_vocab(path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    (path / 'vocab.txt').write_text(
        '\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + WORDS) + '\n'
    )
    return str(path)


def build_model(vocab: str):
    from blip_plugin.models.blip.pretrain import BlipPretrain

    torch.manual_seed(0)
    return BlipPretrain(
        vision_encoder=dict(
            type='BlipViT', arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8
        ),
        med_config=dict(
            vocab_size=32,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            dropout=0.0,
        ),
        tokenizer=dict(name_or_path=vocab),
        embed_dim=16,
        queue_size=16,
        max_txt_len=12,
        momentum=0.9,
        itm_seed=0,
    )


def batch() -> tuple:
    g = torch.Generator().manual_seed(1)
    return torch.randn(len(CAPTIONS), 3, 32, 32, generator=g), CAPTIONS


def run(vocab: str, rank: int, world: int) -> dict:
    """STEPS training steps on this rank's slice; returns what rank 0 reports."""
    import torch.distributed as dist
    from mmpretrain.structures import DataSample

    model = build_model(vocab)
    images, captions = batch()
    per = len(captions) // world
    sl = slice(rank * per, (rank + 1) * per)
    out: dict = {}
    for step in range(STEPS):
        model.zero_grad()
        losses = model.loss(images[sl], [DataSample(gt_caption=c) for c in captions[sl]], alpha=0.4)
        sum(losses.values()).backward()
        for name, value in losses.items():
            v = value.detach().clone()
            if world > 1:
                dist.all_reduce(v)
            out[f'{step}/{name}'] = v / world
        for name, p in model.named_parameters():
            if p.grad is not None:
                if world > 1:  # DDP's gradient averaging
                    dist.all_reduce(p.grad)
                    p.grad /= world
                out[f'{step}/grad/{name}'] = p.grad.clone()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p -= LR * p.grad
    for name in ('image_queue', 'text_queue', 'ptr_queue'):
        out[name] = getattr(model, name).clone()
    out['text_encoder_m'] = model.text_encoder_m.layers[0].ffn.fc1.weight.clone()
    return out


def test_two_ranks_equal_one_process(tmp_path):
    vocab = write_vocab(tmp_path / 'vocab')
    ctx = mp.get_context('fork')  # the children inherit the imports: no start-up cost
    procs = [
        ctx.Process(
            target=_worker, args=(r, vocab, str(tmp_path / 'init'), str(tmp_path / 'out.pt'))
        )
        for r in range(WORLD)
    ]
    for p in procs:
        p.start()
    try:
        ref = run(vocab, 0, 1)  # the one-process reference, while the ranks run
        for p in procs:
            p.join(timeout=120)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    dist_out = torch.load(tmp_path / 'out.pt')
    assert set(ref) == set(dist_out)
    assert any('/grad/text_decoder' in k for k in ref) and any('/grad/temp' in k for k in ref)
    for key, value in ref.items():
        torch.testing.assert_close(dist_out[key], value, rtol=1e-5, atol=1e-5, msg=key)
    assert int(ref['ptr_queue']) == (STEPS * len(CAPTIONS)) % 16


def _worker(rank: int, vocab: str, init: str, out_path: str) -> None:
    import datetime

    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo',
        init_method=f'file://{init}',
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        out = run(vocab, rank, WORLD)
        if rank == 0:
            torch.save(out, out_path)
    finally:
        dist.destroy_process_group()
