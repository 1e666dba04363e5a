"""fmnist_lib.pipeline.runs: one recipe, parallel runs equal serial ones, results keyed per run."""
import dataclasses

import numpy as np
import pytest
import torch

from fmnist_lib.pipeline import dispatch, runs
from fmnist_lib.config import DEFAULTS, get_profile

pytestmark = pytest.mark.realdata


def tiny(**changes):
    return dataclasses.replace(get_profile("quick"), subset=1000, final_epochs=1, seeds=(0, 1), **changes)


def test_run_config_is_the_one_recipe():
    p = get_profile("full")
    c = runs.run_config(p, DEFAULTS, seed=3)
    assert (c.epochs, c.lr_schedule, c.patience, c.seed) == (p.final_epochs, p.final_schedule, p.patience, 3)
    assert (c.lr, c.batch_size, c.weight_decay) == (1e-3, 64, 0.0)


@pytest.mark.slow
def test_parallel_runs_equal_serial_runs_and_are_stored_per_run(tmp_path, monkeypatch):
    p = tiny()
    jobs = [(name, runs.run_config(p, DEFAULTS, seed)) for name in ("simple", "lenet") for seed in p.seeds]
    threads = torch.get_num_threads()
    monkeypatch.setenv("FMNIST_RESULTS", str(tmp_path / "parallel"))
    parallel = dispatch.train_runs(p, jobs, n_jobs=2)
    monkeypatch.setenv("FMNIST_RESULTS", str(tmp_path / "serial"))
    serial = dispatch.train_runs(p, jobs, n_jobs=1)
    assert torch.get_num_threads() == threads  # the caller's thread count is restored
    assert len(list((tmp_path / "parallel" / "quick").glob(f"{runs.ENTRY}-*"))) == len(jobs)
    for a, b in zip(parallel, serial):
        assert np.array_equal(a["test_logits"], b["test_logits"])  # bit-identical
        assert np.array_equal(a["val_logits"], b["val_logits"])
        for k, v in a["model"].state_dict().items():
            assert torch.equal(v, b["model"].state_dict()[k])
        assert np.allclose(a["test_proba"].sum(1), 1) and a["test_proba"].shape == (10000, 10)
    assert not np.array_equal(parallel[0]["test_logits"], parallel[1]["test_logits"])  # seeds differ

    def boom(*args, **kwargs):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(dispatch, "train_run", boom)
    again = dispatch.train_runs(p, jobs + jobs[:1], n_jobs=2)  # all stored: nothing trains
    assert np.array_equal(again[-1]["test_logits"], serial[0]["test_logits"])


def test_softmax_rows_sum_to_one_and_keep_the_argmax():
    z = np.random.default_rng(0).normal(size=(20, 10)) * 30
    p = runs.softmax(z)
    assert np.allclose(p.sum(1), 1) and np.array_equal(p.argmax(1), z.argmax(1))


def test_predict_logits_are_the_models_logits_in_eval_mode():
    from fmnist_lib.data import TensorLoader
    from fmnist_lib.models import SimpleCNN

    model = SimpleCNN(width=4, dropout=0.5).train()  # dropout: train and eval mode differ
    X, y = torch.randn(37, 1, 28, 28), torch.randint(0, 10, (37,))
    logits = runs.predict_logits(model, TensorLoader(X, y, batch_size=8))
    assert logits.shape == (37, 10) and logits.dtype == np.float32 and not model.training
    with torch.no_grad():
        np.testing.assert_allclose(logits, model(X).numpy(), atol=1e-5)  # batches of 8 vs one of 37
    np.testing.assert_allclose(runs.softmax(logits).sum(1), 1.0, atol=1e-12)
