"""Fault injection for reliability tests (imported by name, like ``blip_toy_plugin``)."""

import os
import time
from typing import Any

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from blip_plugin.registry import HOOKS


@HOOKS.register_module()
class BlipExitAtIterHook(Hook):
    """Make process ``rank`` die (``os._exit(code)``, no cleanup) or hang after iteration ``at``.

    Args:
        rank: the global rank that fails. Defaults to 1.
        at: the (1-based) iteration after which it fails. Defaults to 2.
        code: its exit status. Defaults to 3.
        hang: sleep for an hour instead of exiting (a stuck peer). Defaults to False.
        first_attempt_only: fail only in the first torchrun attempt
            (``TORCHELASTIC_RESTART_COUNT`` 0), so that a restarted job can finish.
            Defaults to False.
    """

    def __init__(
        self,
        rank: int = 1,
        at: int = 2,
        code: int = 3,
        hang: bool = False,
        first_attempt_only: bool = False,
    ) -> None:
        self.rank, self.at, self.code, self.hang = rank, at, code, hang
        self.first_attempt_only = first_attempt_only

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if self.first_attempt_only and os.environ.get('TORCHELASTIC_RESTART_COUNT', '0') != '0':
            return
        if get_rank() == self.rank and runner.iter + 1 == self.at:  # iter counts from 0 here
            if self.hang:
                time.sleep(3600)
            os._exit(self.code)
