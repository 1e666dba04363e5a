"""fmnist_lib: everything the fmnist-cnn-report paper computes, and the paper's figures,
tables and sentences.

Data flows one way (see ARCHITECTURE.md): ``data`` -> ``models`` + ``training`` ->
``tuning/`` -> ``evaluation/`` and ``saliency/`` -> ``pipeline/`` (stages, result store) ->
``paper/`` -> the chapters. Importing the package imports none of them: the names below are
loaded on first use, so ``python -m fmnist_lib store list`` starts without torch.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import ConfigError, DataError, FmnistError, StoreError, install_ipython_handler

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(["DEFAULTS", "EQUIVALENCE_MARGIN", "PARAM_GRID", "PROFILES", "Profile", "TrainConfig",
                     "get_profile", "project_root"], "config"),
    **dict.fromkeys(["CLASSES", "TensorLoader", "get_arrays", "get_data_loaders", "load_fashion_mnist",
                     "normalisation_stats"], "data"),
    **dict.fromkeys(["DISPLAY_NAMES", "MODELS", "LeNet5", "SimpleCNN", "model_summary"], "models"),
    **dict.fromkeys(["build_model", "evaluate", "fit", "load_weights", "save_weights", "train_step"], "training"),
    "plot_learning_curves": "paper.training_plots",
    **dict.fromkeys(["make_classifier", "run_grid_search"], "tuning.grid_search"),
    "validate_param_grid": "tuning.search_space",
    **dict.fromkeys(["classification_table", "roc_curves_ovr"], "evaluation.metrics"),
    **dict.fromkeys(["accuracy_ci", "expected_calibration_error", "mcnemar_exact"], "evaluation.stats"),
    **dict.fromkeys(["accuracy_difference", "hierarchical_bootstrap", "tost_verdict"], "evaluation.equivalence"),
    "auc_differences": "evaluation.auc_bootstrap",
    "fit_temperature": "evaluation.calibration",
    "cost_benchmark": "evaluation.benchmark",
    **dict.fromkeys(["CAMResult", "GradCAM", "HiResCAM", "compute_cams"], "saliency.gradcam"),
    **dict.fromkeys(["map_agreement", "pool_to_grid", "reference_agreement"], "saliency.agreement"),
    "occlusion_cams": "saliency.occlusion",
    **dict.fromkeys(["perturbation_curves", "rank_pixels"], "saliency.perturb"),
    "cascading_randomisation": "saliency.sanity",
    "ResultStore": "pipeline.store",
}
# modules and subpackages reachable as attributes (``fmnist_lib.models``, ``fmnist_lib.paper``)
_MODULES = ("config", "data", "errors", "models", "training", "tuning", "evaluation", "saliency", "pipeline",
            "paper")

__all__ = ["__version__", "FmnistError", "ConfigError", "DataError", "StoreError", *_EXPORTS, *_MODULES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


install_ipython_handler()  # in Jupyter (chapters rendered by Quarto): one-line user errors
