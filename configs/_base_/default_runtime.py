# Runtime defaults shared by every config: scope, hooks, logging, environment.
default_scope = 'blip_plugin'
custom_imports = dict(imports=['blip_plugin'], allow_failed_imports=False)
# BlipRunner: checkpoints load with torch.load(weights_only=True), are written atomically and
# carry the RNG states, so `--resume` works on torch >= 2.6 (see blip_plugin/engine/runner.py).
runner_type = 'BlipRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # writes the new checkpoint before pruning old ones and repoints last_checkpoint atomically
    checkpoint=dict(type='BlipCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # a NaN/inf loss stops the run before the bad step (naming the iteration, the loss terms
    # and the last good checkpoint); action='skip' drops such steps, counted and logged
    nonfinite=dict(type='BlipNonFiniteHook', action='stop', max_skips=10),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # BlipRunner uses gloo when CUDA is absent. timeout (s) bounds how long a rank waits in a
    # collective for a hung peer before it fails (a dead peer fails it at once); see
    # docs/reliability.md
    dist_cfg=dict(backend='nccl', timeout=1800),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
