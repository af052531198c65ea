"""A Runner whose checkpoints load with ``torch.load(weights_only=True)`` and resume exactly."""

import copy
import datetime
import glob
import os
import os.path as osp
import re
import time
from typing import Any, Callable, Optional, Union

import mmengine
import torch
from mmengine.dist import is_distributed, master_only
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.runner import IterBasedTrainLoop, Runner
from mmengine.runner.checkpoint import (
    _load_checkpoint_to_model,
    find_latest_checkpoint,
    weights_to_cpu,
)
from torch import nn

from blip_plugin.registry import RUNNERS

from .checkpoint import atomic_save, load_checkpoint_file, load_weights
from .checkpoint_hook import BlipCheckpointHook
from .loops import BlipEpochBasedTrainLoop
from .safe_state import (
    from_safe,
    get_generator_states,
    get_rng_state,
    set_generator_states,
    set_rng_state,
    to_safe,
)

__all__ = ['BlipRunner']

_PLAIN_CHECKPOINT_HOOKS = ('CheckpointHook', 'mmengine.CheckpointHook')


class _RestoreRngAfterSkip:
    """Wrap an iteration loop's data iterator: restore the RNG state after ``skip`` batches.

    On resume, ``IterBasedTrainLoop`` replays the dataloader over the finished iterations; the
    saved RNG state belongs to the moment after them, so it is restored once they are skipped.
    """

    def __init__(self, iterator: Any, skip: int, rng_state: dict) -> None:
        self._iterator, self._skip, self._rng_state = iterator, skip, rng_state

    def __iter__(self) -> '_RestoreRngAfterSkip':
        return self

    def __next__(self) -> Any:
        if self._skip == 0 and self._rng_state is not None:
            set_rng_state(self._rng_state)
            self._rng_state = None
        self._skip -= 1
        return next(self._iterator)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iterator, name)


def _use_safe_checkpoint_hook(default_hooks: Optional[dict]) -> Optional[dict]:
    """Swap MMEngine's CheckpointHook for :class:`BlipCheckpointHook` (same arguments)."""
    if not isinstance(default_hooks, dict):
        return default_hooks
    ckpt = default_hooks.get('checkpoint')
    if isinstance(ckpt, dict) and ckpt.get('type') in _PLAIN_CHECKPOINT_HOOKS:
        default_hooks = copy.copy(default_hooks)
        default_hooks['checkpoint'] = {**ckpt, 'type': BlipCheckpointHook}
    return default_hooks


def _use_resumable_epoch_loop(train_cfg: Optional[dict]) -> Optional[dict]:
    """``by_epoch=True`` / ``EpochBasedTrainLoop`` -> :class:`BlipEpochBasedTrainLoop`."""
    if not isinstance(train_cfg, dict):
        return train_cfg
    kind = train_cfg.get('type')
    if kind is None and train_cfg.get('by_epoch'):
        train_cfg = {k: v for k, v in train_cfg.items() if k != 'by_epoch'}
    elif kind not in ('EpochBasedTrainLoop', 'mmengine.EpochBasedTrainLoop'):
        return train_cfg
    return {**train_cfg, 'type': BlipEpochBasedTrainLoop}


@RUNNERS.register_module()
class BlipRunner(Runner):
    """MMEngine's Runner with weights-only-safe, atomic checkpoints and exact resume.

    Differences from :class:`mmengine.runner.Runner` (same constructor arguments):

    - ``save_checkpoint`` writes only tensors and python values (message-hub
      ``HistoryBuffer`` and numpy values are converted, see
      :mod:`blip_plugin.engine.safe_state`) plus the python / numpy / torch RNG states, to a
      temp file that is fsynced and renamed over the target.
    - ``load_checkpoint`` / ``resume`` read with ``torch.load(weights_only=True)`` only; a
      checkpoint written by plain MMEngine is refused with a message telling how to convert it.
    - ``load_from`` without ``resume`` goes through
      :func:`blip_plugin.engine.checkpoint.load_weights`.
    - ``default_hooks.checkpoint`` of type ``CheckpointHook`` becomes
      :class:`BlipCheckpointHook` (writes first, then repoints ``last_checkpoint``, then
      prunes).
    - Distributed runs without CUDA fall back from the ``nccl`` backend to ``gloo``.

    Resume is exact (same weights as an uninterrupted run, dropout included) with an
    ``IterBasedTrainLoop`` (the RNG state is restored after the loop has replayed the
    dataloader over the finished iterations) and with an epoch-based loop, which becomes
    :class:`BlipEpochBasedTrainLoop`: resumed from a checkpoint inside an epoch, it skips the
    batches trained before it instead of restarting the epoch as MMEngine does. Validation
    does not move the RNG streams (see :class:`BlipCheckpointHook`).

    Args:
        *args: see :class:`mmengine.runner.Runner`.
        **kwargs: see :class:`mmengine.runner.Runner`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs['default_hooks'] = _use_safe_checkpoint_hook(kwargs.get('default_hooks'))
        kwargs['train_cfg'] = _use_resumable_epoch_loop(kwargs.get('train_cfg'))
        self._loaded_checkpoint: Optional[dict] = None
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ environment
    def setup_env(self, env_cfg: dict) -> None:
        """Set up as MMEngine does, and let a CPU-only machine run distributed with gloo.

        MMEngine's ``pytorch`` launcher calls ``torch.cuda.set_device`` unconditionally, so
        without CUDA the process group is initialised here (``nccl`` becomes ``gloo``) and
        MMEngine sees it already set up.
        """
        dist_cfg = dict(env_cfg.get('dist_cfg') or {})
        if self.distributed and not torch.cuda.is_available() and not is_distributed():
            if dist_cfg.get('backend', 'nccl') == 'nccl':
                dist_cfg['backend'] = 'gloo'
            if self.launcher == 'pytorch':
                timeout = dist_cfg.pop('timeout', None)
                if timeout is not None:
                    dist_cfg['timeout'] = datetime.timedelta(seconds=timeout)
                torch.distributed.init_process_group(**dist_cfg)
            env_cfg = {**env_cfg, 'dist_cfg': dist_cfg}
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[dict], model: nn.Module) -> nn.Module:
        """Wrap as MMEngine does; without CUDA, DDP gets no ``device_ids`` (CPU modules)."""
        if self.distributed and not torch.cuda.is_available():
            model_wrapper_cfg = dict(
                model_wrapper_cfg
                or dict(
                    type='MMDistributedDataParallel',
                    broadcast_buffers=False,
                    find_unused_parameters=self.cfg.get('find_unused_parameters', False),
                )
            )
            model_wrapper_cfg.setdefault('device_ids', None)
        return super().wrap_model(model_wrapper_cfg, model)

    @property
    def _bare_model(self) -> nn.Module:
        return self.model.module if is_model_wrapper(self.model) else self.model

    # ------------------------------------------------------------------ loading
    def load_or_resume(self) -> None:
        """Resume (``resume=True``) or load weights (``load_from``), weights-only."""
        if self._has_loaded:
            return
        if self._resume:
            self._remove_stale_temp_files()
        resume_from = None
        if self._resume and self._load_from is None:
            resume_from = find_latest_checkpoint(self.work_dir)
            newer = self._newer_orphan_checkpoint(resume_from)
            if newer is not None:
                self.logger.warning(
                    f'{newer} is newer than the one last_checkpoint names ({resume_from}): '
                    'the run stopped after writing it and before repointing; resuming from it.'
                )
                resume_from = newer
            if resume_from is None:
                self.logger.info(
                    f'resume=True but {self.work_dir} has no last_checkpoint: '
                    'training starts from scratch.'
                )
            elif not osp.isfile(resume_from):
                raise FileNotFoundError(
                    f'{osp.join(self.work_dir, "last_checkpoint")} points to {resume_from}, '
                    'which does not exist; pass --resume PATH with a checkpoint that does.'
                )
            else:
                self.logger.info(f'Auto resumed from the latest checkpoint {resume_from}.')
        elif self._resume:
            resume_from = self._load_from
        if resume_from is not None:
            self.resume(resume_from)
        elif self._load_from is not None:
            checkpoint = from_safe(load_checkpoint_file(self._load_from))
            self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
            load_weights(self._bare_model, checkpoint, logger=self.logger)
            self.logger.info(f'Load checkpoint from {self._load_from}')
        self._has_loaded = True

    def _newer_orphan_checkpoint(self, pointed: Optional[str]) -> Optional[str]:
        """A complete ``epoch_N.pth`` / ``iter_N.pth`` in ``work_dir`` newer than ``pointed``.

        :class:`BlipCheckpointHook` writes the checkpoint (atomically) before it repoints
        ``last_checkpoint``; a kill between the two leaves a whole checkpoint that the pointer
        does not name yet.
        """
        names = glob.glob(osp.join(glob.escape(self.work_dir), '*.pth'))
        found = [p for p in names if re.fullmatch(r'(epoch|iter)_\d+\.pth', osp.basename(p))]
        if not found:
            return None
        newest = max(found, key=osp.getmtime)
        if pointed is not None and osp.isfile(pointed):
            if osp.samefile(newest, pointed) or osp.getmtime(newest) <= osp.getmtime(pointed):
                return None
        return newest

    @master_only
    def _remove_stale_temp_files(self) -> None:
        """Delete ``.NAME.pth.*.tmp`` / ``.last_checkpoint.*.tmp`` left by a killed write.

        :func:`~blip_plugin.engine.checkpoint.atomic_save` writes beside the target and renames;
        a process killed mid-write (SIGKILL, power loss) leaves the partial temp file behind,
        never a partial checkpoint.
        """
        root = glob.escape(self.work_dir)
        for pattern in ('.*.pth.*.tmp', '.last_checkpoint.*.tmp'):
            for path in glob.glob(osp.join(root, pattern)):
                os.remove(path)
                self.logger.warning(f'removed {path}, a write that was interrupted')

    def load_checkpoint(
        self,
        filename: str,
        map_location: Union[str, Callable] = 'cpu',
        strict: bool = False,
        revise_keys: Optional[list] = None,
    ) -> dict:
        """Read ``filename`` weights-only, restore numpy / HistoryBuffer values, load weights."""
        checkpoint = from_safe(load_checkpoint_file(filename, map_location=map_location))
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        checkpoint = _load_checkpoint_to_model(
            self._bare_model, checkpoint, strict, revise_keys=revise_keys or [(r'^module.', '')]
        )
        self._has_loaded = True
        self._loaded_checkpoint = checkpoint
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def resume(
        self,
        filename: str,
        resume_optimizer: bool = True,
        resume_param_scheduler: bool = True,
        map_location: Union[str, Callable] = 'default',
    ) -> None:
        """Resume as MMEngine does, then restore the RNG states saved with the checkpoint.

        The global python / numpy / torch states and the models' private ``torch.Generator``
        attributes (see :func:`~blip_plugin.engine.safe_state.get_generator_states`).
        """
        super().resume(filename, resume_optimizer, resume_param_scheduler, map_location)
        checkpoint, self._loaded_checkpoint = self._loaded_checkpoint or {}, None
        rng = checkpoint.get('rng_state')
        if rng is not None:
            # the models' private generators (hard negatives), the same on every rank
            set_generator_states(self._bare_model, rng.get('generators'))
        if rng is None:
            self.logger.warning(f'{filename} holds no RNG state; random streams restart.')
        elif self.world_size > 1 and self._randomness_cfg.get('diff_rank_seed'):
            self.logger.warning(
                'diff_rank_seed=True: only rank 0 RNG state is saved, so RNG '
                'states are not restored.'
            )
            rng = None
        loop = self.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            if rng is not None:
                loop.dataloader_iterator = _RestoreRngAfterSkip(
                    loop.dataloader_iterator, loop.iter, rng
                )
        elif (
            isinstance(loop, BlipEpochBasedTrainLoop)
            and (skip := loop.iter - loop.epoch * len(self.train_dataloader)) > 0
        ):
            # a checkpoint from inside an epoch (CheckpointHook by_epoch=False)
            loop.skip_batches(skip, rng)
        elif rng is not None:
            set_rng_state(rng)

    # ------------------------------------------------------------------ saving
    @master_only
    def save_checkpoint(
        self,
        out_dir: str,
        filename: str,
        file_client_args: Optional[dict] = None,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        meta: Optional[dict] = None,
        by_epoch: bool = True,
        backend_args: Optional[dict] = None,
    ) -> None:
        """Write a weights-only-safe checkpoint atomically to ``out_dir/filename``.

        Same arguments as :meth:`mmengine.runner.Runner.save_checkpoint`; only local paths
        are supported (``file_client_args`` / ``backend_args`` must name the local backend).
        """
        for args in (file_client_args, backend_args):
            if args and args.get('backend', 'local') != 'local':
                raise NotImplementedError(
                    f'{type(self).__name__} saves to local disk only, got {args}'
                )
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f'meta should be a dict or None, but got {type(meta)}')
        meta = dict(meta or {})
        # as MMEngine: called from after_train_epoch / after_train_iter, before the counters
        # move on, so the saved position is the next one
        meta.setdefault('epoch', self.epoch + 1 if by_epoch else self.epoch)
        meta.setdefault('iter', self.iter if by_epoch else self.iter + 1)
        meta.update(
            cfg=self.cfg.pretty_text,
            seed=self.seed,
            experiment_name=self.experiment_name,
            time=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
            mmengine_version=mmengine.__version__,
            world_size=self.world_size,
        )
        if self._train_loop is not None:
            dataset_meta = getattr(self.train_dataloader.dataset, 'metainfo', None)
            if dataset_meta is not None:
                try:
                    to_safe(dataset_meta, 'dataset_meta')  # fail here, not in the final write
                    meta['dataset_meta'] = dataset_meta
                except TypeError as e:
                    self.logger.warning(f'dataset meta not saved: {e}')

        checkpoint: dict = {
            'meta': meta,
            'state_dict': weights_to_cpu(self._bare_model.state_dict()),
            'message_hub': self.message_hub.state_dict(),
            'rng_state': {
                **get_rng_state(),
                'generators': get_generator_states(self._bare_model),
            },
        }
        if save_optimizer:
            if not isinstance(self.optim_wrapper, OptimWrapper):
                raise TypeError(
                    'self.optim_wrapper should be an `OptimWrapper` or '
                    f'`OptimWrapperDict` instance, but got {self.optim_wrapper}'
                )
            checkpoint['optimizer'] = self.optim_wrapper.state_dict()
        if save_param_scheduler and self.param_schedulers is not None:
            if isinstance(self.param_schedulers, dict):
                checkpoint['param_schedulers'] = {
                    name: [s.state_dict() for s in schedulers]
                    for name, schedulers in self.param_schedulers.items()
                }
            else:
                checkpoint['param_schedulers'] = [s.state_dict() for s in self.param_schedulers]

        self.call_hook('before_save_checkpoint', checkpoint=checkpoint)
        atomic_save(to_safe(checkpoint), osp.join(out_dir, filename))
