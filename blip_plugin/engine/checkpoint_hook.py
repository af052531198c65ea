"""A CheckpointHook whose crash at any moment leaves a loadable last checkpoint."""

import os
from collections import deque
from typing import Any

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from blip_plugin.registry import HOOKS

from .checkpoint import atomic_write_text
from .safe_state import get_rng_state, set_rng_state

__all__ = ['BlipCheckpointHook']


@HOOKS.register_module()
class BlipCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` with crash-safe ordering.

    MMEngine deletes the oldest kept checkpoint *before* writing the new one and rewrites
    ``work_dir/last_checkpoint`` in place, so a crash during a save can leave no checkpoint
    (``max_keep_ckpts=1``) or a truncated pointer. Here the new checkpoint is written first
    (atomically, by the runner), then ``last_checkpoint`` is replaced atomically, and only then
    are old checkpoints deleted. Validation runs with the RNG states saved and restored around
    it, so the training random streams do not depend on whether (or how often) it ran: a resumed
    run, which does not repeat the validation that followed its checkpoint, draws the same
    numbers as an uninterrupted one. Takes exactly the arguments of ``CheckpointHook``.

    Args:
        **kwargs: see :class:`mmengine.hooks.CheckpointHook` (``interval``, ``by_epoch``,
            ``max_keep_ckpts``, ``save_last``, ``save_best``, ...).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def before_val(self, runner: Any) -> None:
        self._train_rng_state = get_rng_state()

    def after_val(self, runner: Any) -> None:
        set_rng_state(getattr(self, '_train_rng_state', None))
        self._train_rng_state = None

    def _remove(self, step: int) -> None:
        path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(step))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner: Any, step: int, meta: dict) -> None:
        hub = runner.message_hub
        old_info = {k: hub.runtime_info.get(k) for k in ('keep_ckpt_ids', 'last_ckpt')}
        old_last = self.last_ckpt
        keep = list(getattr(self, 'keep_ckpt_ids', []))
        expired: list = []
        if self.max_keep_ckpts > 0:
            if not keep or keep[-1] != step:
                keep.append(step)
            expired, keep = keep[: -self.max_keep_ckpts], keep[-self.max_keep_ckpts :]
            hub.update_info('keep_ckpt_ids', list(keep))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        hub.update_info('last_ckpt', self.last_ckpt)
        try:
            runner.save_checkpoint(
                self.out_dir,
                ckpt_filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args,
            )
        except BaseException:
            # the previous checkpoint and pointer are untouched; undo the in-memory record
            self.last_ckpt = old_last
            for k, v in old_info.items():
                if v is None:
                    hub.runtime_info.pop(k, None)
                else:
                    hub.update_info(k, v)
            raise
        if self.max_keep_ckpts > 0:
            self.keep_ckpt_ids = deque(keep, self.max_keep_ckpts)
        if not is_main_process():
            return
        atomic_write_text(self.last_ckpt, os.path.join(runner.work_dir, 'last_checkpoint'))
        for old in expired:
            self._remove(old)
