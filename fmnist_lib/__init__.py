"""fmnist_lib: everything the fmnist-cnn-report paper computes.

Data flows one way: ``data`` -> ``models`` + ``training`` -> ``tuning`` -> ``metrics`` /
``gradcam`` -> the report's chapters (through ``experiments`` and its result store).
"""
from .config import PARAM_GRID, PROFILES, Profile, TrainConfig, get_profile
from .data import (CLASSES, DataError, TensorLoader, get_arrays, get_data_loaders,
                   load_fashion_mnist, normalisation_stats)
from .models import MODELS, LeNet5, SimpleCNN, model_summary
from .training import (baseline, build_model, evaluate, fit, load_weights, plot_learning_curves,
                       save_weights, seed_everything, train_step)

__version__ = "0.1.0"

__all__ = [
    "PARAM_GRID", "PROFILES", "Profile", "TrainConfig", "get_profile",
    "CLASSES", "DataError", "TensorLoader", "get_arrays", "get_data_loaders",
    "load_fashion_mnist", "normalisation_stats",
    "MODELS", "LeNet5", "SimpleCNN", "model_summary",
    "baseline", "build_model", "evaluate", "fit", "load_weights", "plot_learning_curves",
    "save_weights", "seed_everything", "train_step",
]
