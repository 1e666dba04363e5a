"""One place for every setting: training configs, search spaces and report profiles.

Profiles are data (frozen dataclasses), picked by name. The report selects one through
Quarto's ``--profile`` flag (seen by the kernel as ``QUARTO_PROFILE``) or through
``FMNIST_PROFILE``; ``full`` is the default.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["project_root", "cores", "TrainConfig", "Profile", "PROFILES", "PARAM_GRID", "QUICK_GRID", "DEFAULTS",
           "EQUIVALENCE_MARGIN", "MARGIN_HISTORY", "CONVERGENCE_TOLERANCE", "STORE_SIZE_ESTIMATE_MB",
           "get_profile"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (``fit``).

    Parameters
    ----------
    epochs : int
        Passes over the training split.
    batch_size, lr, weight_decay : int, float, float
        Batch size, learning rate and AdamW's decoupled weight decay (Loshchilov and Hutter,
        2019): each step shrinks the weights by ``lr * weight_decay``, apart from the
        gradient's normalisation. At 0 AdamW is Adam exactly (torch skips the term).
    seed : int
        Controls initialisation and the order of training batches.
    patience : int or None
        Early stopping on validation loss after this many epochs without improvement; the
        best weights are restored. ``None`` trains for all ``epochs``.
    lr_schedule : {"constant", "cosine"}
        ``"cosine"`` anneals the learning rate from ``lr`` towards 0 over ``epochs``.
    progress : bool
        Show a tqdm progress bar.
    kernels : {"auto", "fused", "pytorch"}
        The CPU kernels of the conv blocks while training (:mod:`fmnist_lib.fused`): the same
        mathematics, the fused ones about 2x faster on one thread; ``"auto"``: fused where they
        build. A run's store key holds the resolved choice, so results of the two never mix.
    """

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    patience: int | None = None
    lr_schedule: str = "constant"
    progress: bool = True
    kernels: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"TrainConfig.epochs must be >= 1, got {self.epochs}.")
        if self.batch_size < 1:
            raise ValueError(f"TrainConfig.batch_size must be >= 1, got {self.batch_size}.")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}.")
        if self.weight_decay < 0:
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay}.")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"TrainConfig.patience must be None or >= 1, got {self.patience}.")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"TrainConfig.lr_schedule must be 'constant' or 'cosine', "
                             f"got {self.lr_schedule!r}.")


# The search space of the tuning chapter: one dict, used for both models. The learning rate
# brackets the defaults' 1e-3 up to 3e-2 (short fits never favour a lower one; 3e-2 is past
# the best of both models); AdamW's decoupled weight decay brackets 0.1, which helped LeNet-5
# at the converged budget in the pilot (design notes in the tuning chapter); 0 is its edge by
# construction. Batch size is fixed at the defaults' 64: the search's budget buys three
# splits per configuration instead of a third axis.
PARAM_GRID: dict[str, list[Any]] = {
    "lr": [1e-3, 3e-3, 1e-2, 3e-2],
    "batch_size": [64],
    "optimizer__weight_decay": [0.0, 0.03, 0.1, 0.3],
}
QUICK_GRID: dict[str, list[Any]] = {
    "lr": [1e-3, 1e-2],
    "batch_size": [64],
    "optimizer__weight_decay": [0.0, 0.1],
}
# The seed's "train both with default hyperparameters" step: the baseline's grid point.
DEFAULTS: dict[str, Any] = {"lr": 1e-3, "batch_size": 64, "optimizer__weight_decay": 0.0}

# Equivalence margin of the accuracy comparison: LeNet-5 minus the simple CNN within +-1
# percentage point. It entered the code in commit ca57941 (2026-11-29), after a first version of
# the paper had reported a McNemar verdict, and before any run of the converged design; the
# paper says so (MARGIN_HISTORY) and gives, for every estimate, the smallest margin it passes.
EQUIVALENCE_MARGIN = 0.01
# The convergence criterion: the budget is converged when doubling it (its own cosine recipe)
# raises the final validation accuracy by less than this, paired by seed (0.2 percentage points).
CONVERGENCE_TOLERANCE = 0.002
MARGIN_HISTORY = {"commit": "ca57941", "date": "2026-11-29", "first_paper": "f38d8f3",
                  "first_paper_date": "2026-11-28"}


@dataclass(frozen=True)
class Profile:
    """Everything that sizes one computation of the report.

    One training recipe serves every compared run: the baseline (``DEFAULTS``), the
    search's candidates (one per learning rate, first seed), the tuned finals and the
    runner-up train for ``final_epochs`` with ``final_schedule``; the search's fits follow
    the same recipe, shortened to ``grid_epochs`` on ``grid_subset`` images. Two other
    budgets of the tuned values show how the verdict depends on the budget: ``short_epochs``
    (every seed) and ``check_epochs`` (the convergence check, ``check_seeds``).

    Parameters
    ----------
    name : str
        ``"quick"`` or ``"full"``.
    subset : int or None
        Stratified subset of the 60,000 training images used by every stage (``None``: all).
    val_fraction : float
        Share of the (subset of the) training images held out for validation: the search
        scores on it, temperature scaling is fitted on it.
    seed : int
        The seed of the splits and of the grid search.
    grid : dict
        The search space (``PARAM_GRID`` in the full profile).
    grid_subset : int
        Images of the training split that each search fit trains on: ``grid_splits``
        disjoint stratified subsets of this size, one per split.
    grid_splits : int
        Splits per configuration (each scored on the validation split); ``GridSearchCV``
        ranks configurations by the mean over them.
    grid_epochs : int
        Epochs per fit in the search (cosine schedule over these epochs).
    final_epochs, patience, final_schedule : int, int or None, str
        Epochs, early-stopping patience and learning-rate schedule of every compared run.
    seeds : tuple of int
        Seeds of the compared runs (initialisation and batch order).
    short_epochs : int
        The short budget: the tuned values trained for this many epochs, every seed.
    check_epochs, check_seeds : int, int
        The convergence check: the tuned values trained for ``check_epochs`` (twice the
        budget), on the last ``check_seeds`` seeds (the first seed's run of the budget is the
        candidate the selection chose, a maximum to pair with).
    runner_up_seeds : int
        Seeds of the runner-up, the candidate second by full-recipe validation accuracy (the
        first ones of ``seeds``).
    n_jobs : int
        Parallel processes (one torch thread each) for the search fits and the seed runs.
    agreement_images : int
        Stratified test images of the saliency stage: Grad-CAM and HiResCAM are computed,
        compared and tested for foreground on all of them (at least 20: the same-class chance
        needs two images per class).
    occlusion_images : int
        A stratified subset of those that occlusion also explains (each map costs up to 169
        forward passes); capped at ``agreement_images``.
    faith_images, road_images : int
        Of the occlusion images, the first ``faith_images`` take the perturbation tests with
        black, mean and blur fills, the first ``road_images`` ROAD's (one sparse solve per
        image, step, test and map).
    randomisation_images : int
        Of the occlusion images, the first ones in the cascading randomisation check (every
        explainer recomputed once per randomised layer).
    n_boot : int
        Bootstrap replicates of the comparison's confidence intervals.
    bench_repeats : int
        Interleaved repeats of the cost benchmark.
    """

    name: str
    subset: int | None
    val_fraction: float
    seed: int
    grid: dict[str, list[Any]]
    grid_subset: int
    grid_epochs: int
    final_epochs: int
    patience: int | None
    seeds: tuple[int, ...]
    n_jobs: int
    short_epochs: int
    check_epochs: int
    grid_splits: int = 3
    check_seeds: int = 1
    runner_up_seeds: int = 3
    agreement_images: int = field(default=1000)
    occlusion_images: int = 300
    faith_images: int = 200
    road_images: int = 50
    randomisation_images: int = 100
    final_schedule: str = "cosine"
    n_boot: int = 2000
    bench_repeats: int = 5

    def __post_init__(self) -> None:
        for what, n in (("check_seeds", self.check_seeds), ("runner_up_seeds", self.runner_up_seeds)):
            if not 1 <= n <= len(self.seeds):
                raise ValueError(f"Profile {self.name!r}: {what} must be between 1 and the {len(self.seeds)} "
                                 f"seeds, got {n}.")
        if self.grid_splits < 2:
            raise ValueError(f"Profile {self.name!r}: grid_splits must be >= 2 (a mean and an sd per "
                             f"configuration), got {self.grid_splits}.")
        if min(self.short_epochs, self.check_epochs) < 1:
            raise ValueError(f"Profile {self.name!r}: short_epochs and check_epochs must be >= 1, got "
                             f"{self.short_epochs} and {self.check_epochs}.")

        sizes = self.saliency_sizes()
        if min(self.agreement_images, self.occlusion_images) < 20 or min(sizes.values()) < 2:
            raise ValueError(f"Profile {self.name!r}: agreement_images and occlusion_images must be >= 20 (the "
                             f"same-class chance needs two images per class) and the other saliency sizes >= 2, "
                             f"got agreement_images={self.agreement_images}, {sizes}.")
        occ = min(self.occlusion_images, self.agreement_images)
        if max(self.faith_images, self.randomisation_images) > occ or self.road_images > self.faith_images:
            raise ValueError(f"Profile {self.name!r}: the saliency sizes must nest, road_images <= faith_images "
                             f"<= occlusion_images and randomisation_images <= occlusion_images (capped at "
                             f"agreement_images={self.agreement_images}); got {sizes}.")

    def saliency_sizes(self) -> dict[str, int]:
        """The saliency stage's sizes below ``agreement_images``, as ``saliency.study.analyse``
        takes them (and the stage's store key holds them)."""
        return {"occlusion_images": self.occlusion_images, "faith_images": self.faith_images,
                "road_images": self.road_images, "randomisation_images": self.randomisation_images}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (for result-store keys and the appendix)."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick", subset=6000, val_fraction=0.1, seed=0, grid=QUICK_GRID, grid_subset=1500,
        grid_epochs=1, final_epochs=2, patience=None, seeds=(0, 1, 2), n_jobs=2,
        short_epochs=1, check_epochs=3, runner_up_seeds=1,
        # the saliency stage at about half the full sizes below agreement_images: occlusion
        # (its maps and its randomisation) and the perturbation tests were ~90 % of its time
        agreement_images=200, occlusion_images=100, faith_images=100, road_images=25,
        randomisation_images=50, n_boot=500, bench_repeats=3,
    ),
    # 10 epochs: the converged budget (doubling it adds nothing, see the tuning chapter);
    # sized for <= 30 minutes on 2 cores (see the README's timing table)
    "full": Profile(
        name="full", subset=None, val_fraction=0.1, seed=0, grid=PARAM_GRID, grid_subset=10000,
        grid_epochs=2, final_epochs=10, patience=None, seeds=(0, 1, 2, 3, 4), n_jobs=2,
        short_epochs=4, check_epochs=20, runner_up_seeds=3,
        agreement_images=1000, occlusion_images=300, faith_images=200, road_images=50,
        randomisation_images=100, n_boot=2000, bench_repeats=5,
    ),
}

# About how many MB a profile's complete result store takes, an estimate with a margin of
# about 1.5x: a complete quick store measured 7.8 MB; the full one, scaled from it entry by
# entry (20 runs of 0.7-0.9 MB, Grad-CAM on 5x the images), about 20 MB. Used only to warn
# before a run when the results folder's disk clearly lacks the room (`check` and `run`).
STORE_SIZE_ESTIMATE_MB: dict[str, int] = {"quick": 12, "full": 30}


def get_profile(name: str | Profile | None = None) -> Profile:
    """Return the profile named ``name``, or the one the environment selects.

    Without a name: ``FMNIST_PROFILE``, then ``QUARTO_PROFILE`` (Quarto's ``--profile``,
    possibly a comma-separated list), then ``"full"``.

    Raises
    ------
    ConfigError
        A ``ValueError`` naming the unknown profile and where it came from, listing the valid ones.
    """
    if isinstance(name, Profile):
        return name
    what = f"profile {name!r}"
    if name is None:
        if os.environ.get("FMNIST_PROFILE"):
            name = os.environ["FMNIST_PROFILE"]
            what = f"FMNIST_PROFILE={name}"
        elif os.environ.get("QUARTO_PROFILE"):
            quarto = [p.strip() for p in os.environ["QUARTO_PROFILE"].split(",") if p.strip()]
            known = [p for p in quarto if p in PROFILES]
            name = known[0] if known else quarto[0]
            what = f"QUARTO_PROFILE={os.environ['QUARTO_PROFILE']}"
        else:
            name = "full"
    if name not in PROFILES:
        raise ConfigError(what, "no such profile" if what.startswith("profile") else
                          f"no profile named {name!r}",
                          f"Valid profiles: {', '.join(sorted(PROFILES))}. Pick one with "
                          "FMNIST_PROFILE=quick, --profile quick or `quarto render --profile quick`.")
    return PROFILES[name]


def cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``_quarto.yml``.

    Chapters run with their own folder as working directory, so results and data are found
    from the project root, not from wherever the kernel started. Falls back to ``start``.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_quarto.yml").is_file():
            return folder
    return start
