"""Where and whether the study's runs train: load the stored ones, train the missing ones.

Runs that are not in the result store yet are trained in joblib (loky) worker processes with one
torch thread each, or as tasks on the Dask cluster of ``--scheduler`` / ``$FMNIST_SCHEDULER``
(:mod:`fmnist_lib.pipeline.cluster`), and the parent writes each result to the store (atomically,
keyed by the run's spec), so a run's numbers do not depend on how many ran beside it or where: a
parallel or remote run equals a serial one for the same seed.

Plumbing (:data:`fmnist_lib.pipeline.registry.PLUMBING`): an edit here re-keys no entry. What a
run computes, and the softmax applied to its stored logits, live in :mod:`.runs`, which does.
"""
from __future__ import annotations

from ..config import Profile, TrainConfig, cores
from ..models import MODELS
from .cluster import check_scheduler, run_on_cluster, scheduler_address
from .runs import ENTRY, data_spec, run_spec, softmax, train_run
from .store import default_store

__all__ = ["train_runs"]


def train_runs(p: Profile, jobs: list[tuple[str, TrainConfig]], n_jobs: int | None = None,
               scheduler: str | None = None) -> list[dict]:
    """Load or train each ``(name, config)`` run; missing ones in parallel processes.

    Parameters
    ----------
    p : Profile
    jobs : list of (str, TrainConfig)
    n_jobs : int, optional
        Worker processes (default ``p.n_jobs``, at most one per core); 1 trains in this process.
        Not used when a scheduler is set.
    scheduler : str, optional
        A Dask scheduler's address (default ``$FMNIST_SCHEDULER``): the missing runs become
        tasks on its cluster, one per run, checked to answer before any is sent.

    Returns
    -------
    list of dict
        Per job, in order: the stored items (see :func:`.runs.train_run`) plus ``seed``, ``config``
        (dict, without the progress flag, so keys built from it do not depend on a terminal),
        ``model`` (eval mode, CPU) and ``test_proba``/``val_proba`` (softmax, float64).
    """
    store = default_store(p.name)
    specs = [run_spec(p, name, config) for name, config in jobs]
    # verified now: a damaged entry is set aside here (None) and trained again below
    stored = {store.path(ENTRY, s): store.load(ENTRY, s) for s in specs}
    missing = list({store.path(ENTRY, s): (job, s) for job, s in zip(jobs, specs)
                    if stored[store.path(ENTRY, s)] is None}.values())  # a run listed twice trains once
    # longest first (epochs, then the larger model), so the last runs to finish are short ones
    missing.sort(key=lambda m: (m[0][1].epochs, m[0][0] == "lenet"), reverse=True)
    address = scheduler_address(scheduler)
    workers = max(1, min(cores(), p.n_jobs if n_jobs is None else n_jobs, len(missing)))
    if address is not None and missing:
        check_scheduler(address)
        results = run_on_cluster(address, train_run,
                                 [(name, config, data_spec(p)) for (name, config), _ in missing])
    elif workers > 1:
        from joblib import Parallel, delayed

        from .workers import loky_workers

        with loky_workers():  # no worker outlives this stage, or this process
            results = Parallel(n_jobs=workers)(
                delayed(train_run)(name, config, data_spec(p)) for (name, config), _ in missing)
    else:
        results = [train_run(name, config, data_spec(p)) for (name, config), _ in missing]
    for (_, spec), items in zip(missing, results):
        stored[store.path(ENTRY, spec)] = store.save_and_load(ENTRY, spec,
                                                              {**items, "_seconds": items["seconds"]})
    out = []
    for (name, config), spec in zip(jobs, specs):
        raw = dict(stored[store.path(ENTRY, spec)])  # a run listed twice shares its entry
        model = MODELS[name]()
        model.load_state_dict(raw.pop("weights"))
        out.append({**raw, "seed": config.seed, "config": spec["config"], "model": model.eval(),
                    "test_proba": softmax(raw["test_logits"]), "val_proba": softmax(raw["val_logits"])})
    return out
