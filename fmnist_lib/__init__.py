"""fmnist_lib: everything the fmnist-cnn-report paper computes.

Data flows one way: ``data`` -> ``models`` + ``training`` -> ``tuning`` -> ``metrics`` /
``gradcam`` -> the report's chapters (through ``study`` and its result store).
"""
from .evaluation.auc_bootstrap import auc_differences
from .evaluation.benchmark import cost_benchmark
from .evaluation.calibration import fit_temperature
from .config import (DEFAULTS, EQUIVALENCE_MARGIN, PARAM_GRID, PROFILES, Profile, TrainConfig, get_profile,
                     project_root)
from .data import (CLASSES, TensorLoader, get_arrays, get_data_loaders, load_fashion_mnist,
                   normalisation_stats)
from .evaluation.equivalence import accuracy_difference, hierarchical_bootstrap, tost_verdict
from .errors import ConfigError, DataError, FmnistError, StoreError, install_ipython_handler
from .paper.evaluation_plots import (plot_confident_mistakes, plot_confusion_matrices, plot_reliability,
                               plot_roc_comparison, plot_roc_ovr)
from .saliency.gradcam import CAMResult, GradCAM, HiResCAM, compute_cams
from .saliency.agreement import agreement_by_class, cam_agreement, reference_agreement
from .saliency.perturb import perturbation_curves, rank_pixels
from .saliency.sanity import cascading_randomisation
from .paper.gradcam_plots import comparison_grid, overlay
from .evaluation.metrics import auc_table, classification_table, predict_proba, roc_curves_ovr
from .models import DISPLAY_NAMES, MODELS, LeNet5, SimpleCNN, model_summary
from .evaluation.stats import accuracy_ci, expected_calibration_error, mcnemar_exact
from .pipeline.store import ResultStore
from .training import (baseline, build_model, evaluate, fit, load_weights, plot_learning_curves,
                       save_weights, seed_everything, train_step)
from .paper.tuning_plots import plot_cv_heatmaps
from .tuning.grid_search import make_classifier, run_grid_search, validate_param_grid

__version__ = "0.1.0"

install_ipython_handler()  # in Jupyter (chapters rendered by Quarto): one-line user errors

__all__ = [
    "auc_differences", "cost_benchmark", "fit_temperature",
    "DEFAULTS", "EQUIVALENCE_MARGIN", "PARAM_GRID", "PROFILES", "Profile", "TrainConfig", "get_profile",
    "project_root", "accuracy_difference", "hierarchical_bootstrap", "tost_verdict",
    "FmnistError", "ConfigError", "DataError", "StoreError",
    "CLASSES", "TensorLoader", "get_arrays", "get_data_loaders",
    "load_fashion_mnist", "normalisation_stats",
    "plot_confident_mistakes", "plot_confusion_matrices", "plot_reliability",
    "plot_roc_comparison", "plot_roc_ovr",
    "CAMResult", "GradCAM", "HiResCAM", "compute_cams",
    "agreement_by_class", "cam_agreement", "reference_agreement",
    "perturbation_curves", "rank_pixels", "cascading_randomisation",
    "comparison_grid", "overlay",
    "auc_table", "classification_table", "predict_proba", "roc_curves_ovr",
    "DISPLAY_NAMES", "MODELS", "LeNet5", "SimpleCNN", "model_summary",
    "accuracy_ci", "expected_calibration_error", "mcnemar_exact",
    "ResultStore",
    "baseline", "build_model", "evaluate", "fit", "load_weights", "plot_learning_curves",
    "save_weights", "seed_everything", "train_step",
    "make_classifier", "plot_cv_heatmaps", "run_grid_search", "validate_param_grid",
]
