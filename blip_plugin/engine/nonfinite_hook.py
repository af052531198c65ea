"""Stop (or skip the step) when a training loss is NaN or infinite, never train on silently."""

from typing import Any, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from blip_plugin.registry import HOOKS

__all__ = ['BlipNonFiniteHook', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """A training loss was NaN or infinite (the message names the iteration and terms)."""


@HOOKS.register_module()
class BlipNonFiniteHook(Hook):
    """Check every training loss before its backward pass and optimizer step.

    The hook wraps the model's ``parse_losses`` (to see the loss terms) and the optimizer
    wrapper's ``update_params`` (to act before the weights change). With a non-finite total
    loss:

    - ``action='stop'``: raise :class:`NonFiniteLossError` naming the iteration, every loss
      term and the last good checkpoint (``work_dir/last_checkpoint``); no update happened and
      no checkpoint holds the bad step, so ``--resume`` continues from that checkpoint.
    - ``action='skip'``: drop the step (no backward, gradients zeroed), log a warning with the
      same facts and count it in the message hub (``train/nonfinite_skips``); after
      ``max_skips`` skipped steps the run stops as with ``'stop'``.

    In distributed runs the ranks agree (an ``all_reduce`` of the flag) so that every rank
    skips or stops together instead of hanging in DDP's gradient all-reduce. A skipped step
    still counts as an iteration (schedules move on).

    Args:
        action: ``'stop'`` or ``'skip'``. Defaults to ``'stop'``.
        max_skips: with ``'skip'``, the number of skipped steps that stops the run.
            Defaults to 10.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, action: str = 'stop', max_skips: int = 10) -> None:
        if action not in ('stop', 'skip'):
            raise ValueError(f"BlipNonFiniteHook: action must be 'stop' or 'skip', got {action!r}")
        self.action, self.max_skips = action, max_skips
        self.skipped = 0
        self._terms: dict = {}

    # ------------------------------------------------------------------ wiring
    def before_train(self, runner: Any) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        parse_losses = model.parse_losses

        def recording_parse_losses(losses: dict) -> tuple:
            loss, log_vars = parse_losses(losses)
            self._terms = {k: float(torch.as_tensor(v).detach()) for k, v in log_vars.items()}
            return loss, log_vars

        model.parse_losses = recording_parse_losses
        for wrapper in self._optim_wrappers(runner):
            wrapper.update_params = self._guard(runner, wrapper, wrapper.update_params)

    @staticmethod
    def _optim_wrappers(runner: Any) -> list:
        wrapper = runner.optim_wrapper
        if hasattr(wrapper, 'optim_wrappers'):  # OptimWrapperDict
            return list(wrapper.optim_wrappers.values())
        return [wrapper]

    def _guard(self, runner: Any, wrapper: Any, update_params: Any) -> Any:
        def guarded(loss: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            bad = torch.tensor(0.0 if torch.isfinite(loss).all() else 1.0, device=loss.device)
            if get_world_size() > 1:
                all_reduce(bad)  # every rank takes the same branch
            if bad.item() == 0:
                return update_params(loss, *args, **kwargs)
            message = self._message(runner, loss)
            if self.action == 'stop' or self.skipped + 1 > self.max_skips:
                if self.action == 'skip':
                    message += f' ({self.max_skips} steps skipped already: max_skips reached)'
                raise NonFiniteLossError(message)
            self.skipped += 1
            wrapper.zero_grad()
            runner.message_hub.update_info('train/nonfinite_skips', self.skipped)
            runner.logger.warning(f'{message}; step skipped ({self.skipped}/{self.max_skips}).')
            return None

        return guarded

    def _message(self, runner: Any, loss: torch.Tensor) -> str:
        terms = ', '.join(f'{k}={v:.6g}' for k, v in self._terms.items()) or f'loss={loss}'
        return (
            f'non-finite training loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
            f'{terms}; last good checkpoint: {self._last_checkpoint(runner)}'
        )

    @staticmethod
    def _last_checkpoint(runner: Any) -> Optional[str]:
        last = runner.message_hub.get_info('last_ckpt')
        return last or 'none yet (the run saved no checkpoint before this step)'
