"""An epoch-based training loop that resumes in the middle of an epoch where it stopped."""

from typing import Optional

from mmengine.runner import EpochBasedTrainLoop

from blip_plugin.registry import LOOPS

from .safe_state import set_rng_state

__all__ = ['BlipEpochBasedTrainLoop']


@LOOPS.register_module()
class BlipEpochBasedTrainLoop(EpochBasedTrainLoop):
    """MMEngine's ``EpochBasedTrainLoop`` that can skip the batches an interrupted epoch trained.

    MMEngine restarts an epoch that a checkpoint interrupted (``CheckpointHook`` with
    ``by_epoch=False`` inside an epoch-based run): the batches before the checkpoint are
    trained twice and the run ends with more iterations than ``max_epochs`` epochs hold.
    :class:`~blip_plugin.engine.BlipRunner` uses this loop for epoch-based configs and, on
    resume from such a checkpoint, calls :meth:`skip_batches`: the resumed epoch draws the same
    sampler order (``DistSamplerSeedHook`` seeds it by epoch), passes over the batches already
    trained without training on them, then restores the RNG states saved with the checkpoint.
    With ``num_workers=0`` the resumed run then equals an uninterrupted one bit for bit; with
    workers the batch order is the same but augmentations drawn in the workers are not (their
    seeds come from the torch RNG when the epoch's iterator starts). Takes the arguments of
    ``EpochBasedTrainLoop``.
    """

    _skip: int = 0
    _rng_after_skip: Optional[dict] = None

    def skip_batches(self, count: int, rng_state: Optional[dict]) -> None:
        """Skip ``count`` batches at the start of the next epoch, then set ``rng_state``."""
        self._skip, self._rng_after_skip = count, rng_state

    def run_epoch(self) -> None:
        """Iterate one epoch, skipping the batches a resumed checkpoint already trained."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        skip, self._skip = self._skip, 0
        if skip:
            self.runner.logger.info(
                f'Resuming epoch {self._epoch + 1} after its first {skip} batches (trained '
                'before the checkpoint): loading and skipping them.'
            )
        for idx, data_batch in enumerate(self.dataloader):
            if idx < skip:
                continue
            if idx == skip and self._rng_after_skip is not None:
                set_rng_state(self._rng_after_skip)  # the state after the checkpoint's batch
                self._rng_after_skip = None
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
