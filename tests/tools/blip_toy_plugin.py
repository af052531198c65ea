"""A tiny model, dataset, metric and hook for runner and tool tests (imported by name).

Test configs import it with ``custom_imports=dict(imports=['blip_toy_plugin'])`` and its
directory on ``PYTHONPATH``; in-process tests put the directory on ``sys.path``.
"""

import json
import os.path as osp
import sys
from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

from blip_plugin.registry import DATASETS, HOOKS, METRICS, MODELS


@MODELS.register_module()
class BlipToyModel(BaseModel):
    """Linear regression with dropout, so resumed runs must restore the torch RNG.

    Args:
        dropout: dropout probability on the input. Defaults to 0.2.
    """

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.linear = nn.Linear(4, 2)

    def forward(
        self,
        inputs: torch.Tensor,
        data_samples: Optional[torch.Tensor] = None,
        mode: str = 'tensor',
    ) -> Any:
        out = self.linear(self.drop(inputs))  # (B, 2)
        if mode == 'loss':
            return {'loss': ((out - data_samples) ** 2).mean()}
        if mode == 'predict':
            return [dict(pred=o, target=t) for o, t in zip(out, data_samples)]
        return out


@DATASETS.register_module()
class BlipToyDataset(Dataset):
    """Fixed random pairs ``x -> x @ W`` (numpy in its metainfo, as real datasets have).

    Args:
        size: number of samples. Defaults to 16.
    """

    METAINFO = dict(classes=('a', 'b'), palette=np.array([[1, 2, 3], [4, 5, 6]], np.uint8))

    def __init__(self, size: int = 16) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(size, 4, generator=g)
        self.y = self.x @ torch.randn(4, 2, generator=g)

    @property
    def metainfo(self) -> dict:
        return dict(self.METAINFO)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=self.x[idx], data_samples=self.y[idx])


@METRICS.register_module()
class BlipToyMetric(BaseMetric):
    """Mean squared error of the predictions."""

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            self.results.append(float(((s['pred'] - s['target']) ** 2).mean()))

    def compute_metrics(self, results: list) -> dict:
        return dict(mse=sum(results) / len(results))


@HOOKS.register_module()
class BlipToyModulesHook(Hook):
    """Write which mmpretrain modules were imported to ``work_dir/modules.json``."""

    def after_run(self, runner: Any) -> None:
        if is_main_process():
            with open(osp.join(runner.work_dir, 'modules.json'), 'w') as f:
                json.dump(sorted(m for m in sys.modules if m.startswith('mmpretrain')), f)
