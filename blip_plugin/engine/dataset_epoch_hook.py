"""Tell a streaming (iterable) training dataset which epoch starts."""

from typing import Any

from mmengine.hooks import Hook

from blip_plugin.registry import HOOKS

__all__ = ['DatasetEpochHook']


@HOOKS.register_module()
class DatasetEpochHook(Hook):
    """Call ``train_dataloader.dataset.set_epoch(runner.epoch)`` before every training epoch.

    MMEngine's loops seed each epoch's shuffle through ``sampler.set_epoch``, but a dataloader
    over an ``IterableDataset`` (e.g. :class:`~blip_plugin.datasets.WebShardPairs`) takes no
    sampler. Non-persistent workers copy the dataset at every epoch, so they see the value set
    here; persistent workers count their passes from the first one, which this sets too (also
    after a resume).
    """

    priority = 'NORMAL'

    def before_train_epoch(self, runner: Any) -> None:
        dataset = runner.train_dataloader.dataset
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(runner.epoch)
