"""Chapter "Models": the two architectures' sizes and how they compare."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from ...models import BACKGROUND, DISPLAY_NAMES, LeNet5, SimpleCNN, model_summary
from .. import report

__all__ = ["context", "complexity_table"]


def context() -> SimpleNamespace:
    """The chapter's values: ``complexity`` (one row per model) and its numbers as text."""
    complexity = pd.DataFrame([model_summary(SimpleCNN()), model_summary(LeNet5())])
    complexity["model"] = [DISPLAY_NAMES["simple"], DISPLAY_NAMES["lenet"]]
    simple, lenet = complexity.iloc[0], complexity.iloc[1]
    return SimpleNamespace(
        complexity=complexity, width=SimpleCNN().width, background=f"{BACKGROUND:.3f}",
        lenet_parameters=f"{lenet.parameters:,}", simple_parameters=f"{simple.parameters:,}",
        parameter_share=report.fmt_pct(simple.parameters / lenet.parameters),
        mac_share=report.fmt_pct(simple.macs / lenet.macs))


def complexity_table(ch: SimpleNamespace):
    """Layers, parameters and multiply-adds of both models, as a markdown table."""
    return report.md(ch.complexity.rename(columns={"conv_layers": "conv layers", "fc_layers": "fc layers",
                                                   "macs": "multiply-adds"}))
