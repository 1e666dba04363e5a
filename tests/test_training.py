"""fmnist_lib.training: steps, evaluation, fit, early stopping, weights on disk."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fmnist_lib import training
from fmnist_lib.config import TrainConfig
from fmnist_lib.data import TensorLoader, get_data_loaders
from fmnist_lib.training import (build_model, evaluate, fit, load_weights,
                                 save_weights, train_step)

QUIET = dict(progress=False)


@pytest.fixture
def synthetic():
    """(train, val, test) loaders over 256 random images: fast, for mechanics only."""
    X, y = torch.randn(256, 1, 28, 28), torch.randint(0, 10, (256,))
    return (TensorLoader(X, y, 32, shuffle=True), TensorLoader(X[:96], y[:96], 32),
            TensorLoader(X[96:192], y[96:192], 32))


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------- steps and evaluation


@pytest.mark.parametrize("name", ["simple", "lenet"])
def test_train_step_lowers_the_loss_on_a_fixed_batch(name):
    batch = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))  # normalised-like input
    model = build_model(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = [train_step(model, batch, optimizer, nn.CrossEntropyLoss())[0].item() for _ in range(20)]
    assert all(isinstance(v, float) for v in losses)
    assert losses[-1] < 0.25 * losses[0]  # it memorises 8 images


def test_build_model_is_seeded_and_rejects_unknown_names():
    assert _same_state(build_model("lenet", seed=3), build_model("lenet", seed=3))
    assert not _same_state(build_model("lenet", seed=3), build_model("lenet", seed=4))
    assert build_model("simple", width=4).width == 4
    with pytest.raises(ValueError, match="Unknown model 'vgg'"):
        build_model("vgg")


@pytest.mark.parametrize("start_training", [True, False])
def test_evaluate_runs_in_eval_mode_and_restores_the_mode(start_training, synthetic):
    model = build_model("simple", dropout=0.5).train(start_training)
    modes = []
    model.register_forward_hook(lambda m, i, o: modes.append(m.training))
    evaluate(model, synthetic[1])
    assert modes and not any(modes)
    assert model.training is start_training


def test_evaluate_matches_a_direct_computation(synthetic):
    model, val = build_model("lenet"), synthetic[1]
    with torch.no_grad():
        logits = model.eval()(val.X)
    loss, acc = evaluate(model, val)
    assert loss == pytest.approx(F.cross_entropy(logits, val.y).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == val.y).float().mean().item())
    # any iterable of batches gives the same numbers as the resident-tensor fast path
    assert evaluate(model, list(val)) == pytest.approx((loss, acc), rel=1e-5)
    with pytest.raises(ValueError, match="empty loader"):
        evaluate(model, [])


# ---------------------------------------------------------------- fit


def test_fit_history_and_final_state(synthetic):
    model = build_model("lenet")
    history = fit(model, synthetic, TrainConfig(epochs=2, **QUIET))
    assert list(history.columns) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"]
    assert history["epoch"].tolist() == [1, 2] and history.attrs["best_epoch"] == 2
    assert history[["train_acc", "val_acc"]].stack().between(0, 1).all()
    # handed back in eval mode and in the default memory layout
    assert not model.training and model.last_conv.weight.is_contiguous()


def test_early_stopping_restores_the_best_weights(synthetic, monkeypatch):
    scripted = iter([1.0, 0.5, 0.7, 0.9, 0.3])  # best at epoch 2, then 2 worse epochs
    snapshots = []

    def fake_evaluate(model, loader):
        snapshots.append(copy.deepcopy(model.state_dict()))
        return next(scripted), 0.5

    monkeypatch.setattr(training, "evaluate", fake_evaluate)
    model = build_model("simple")
    history = fit(model, synthetic, TrainConfig(epochs=5, patience=2, **QUIET))
    assert history["epoch"].tolist() == [1, 2, 3, 4]  # stopped before epoch 5
    assert history.attrs["best_epoch"] == 2
    state = model.state_dict()
    assert all(torch.equal(state[k], snapshots[1][k]) for k in state)
    assert not all(torch.equal(state[k], snapshots[3][k]) for k in state)


@pytest.mark.parametrize("name", ["simple", "lenet"])
def test_divergence_is_a_clear_error(name, synthetic):
    with pytest.raises(FloatingPointError, match=r"diverged at epoch 1.*Lower the learning rate \(lr=1e\+06\)"):
        fit(build_model(name), synthetic, TrainConfig(epochs=2, lr=1e6, **QUIET))


def test_fit_respects_progress(synthetic, capsys):
    fit(build_model("simple"), synthetic, TrainConfig(epochs=1, progress=False))
    assert capsys.readouterr().err == ""
    fit(build_model("simple"), synthetic, TrainConfig(epochs=1, progress=True))
    assert "SimpleCNN" in capsys.readouterr().err  # the check above can fail


# ---------------------------------------------------------------- the real data


@pytest.fixture(scope="module")
def small():
    return get_data_loaders(64, subset=1000, device="cpu")


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["simple", "lenet"])
def test_same_seed_same_weights(name, small):
    config = TrainConfig(epochs=1, seed=0, **QUIET)
    a, b = build_model(name, seed=0), build_model(name, seed=0)
    fit(a, small, config)
    fit(b, small, config)
    assert _same_state(a, b)
    c = build_model(name, seed=1)
    fit(c, small, TrainConfig(epochs=1, seed=1, **QUIET))
    assert not _same_state(a, c)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["simple", "lenet"])
def test_short_real_fit_beats_chance_clearly(name):
    loaders = get_data_loaders(64, subset=3000, device="cpu")
    history = fit(build_model(name), loaders, TrainConfig(epochs=2, **QUIET))
    assert history["val_acc"].iloc[-1] > 0.6  # chance is 0.1
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]


# ---------------------------------------------------------------- weights on disk


def test_save_load_round_trip_is_exact(tmp_path, monkeypatch):
    model = build_model("lenet", seed=0)
    path = save_weights(model, tmp_path / "nested" / "lenet.pt")
    assert [p.name for p in path.parent.iterdir()] == ["lenet.pt"]  # no stray temp files
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: calls.append(kw) or real_load(*a, **kw))
    other = load_weights(build_model("lenet", seed=1), path)
    assert _same_state(model, other)
    assert calls and calls[0].get("weights_only") is True


def test_save_is_atomic(tmp_path, monkeypatch):
    path = save_weights(build_model("simple", seed=0), tmp_path / "w.pt")
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        with open(f, "wb") as out:  # dies half-way through writing, as a full disk would
            out.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_weights(build_model("simple", seed=1), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"]


def test_load_missing_weights_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="train the model first"):
        load_weights(build_model("simple"), tmp_path / "absent.pt")


def test_cosine_schedule_anneals_the_learning_rate(synthetic, monkeypatch):
    seen = []
    real_step = training.train_step

    def spy(model, batch, optimizer, loss_fn):  # fit runs train_step per batch: read the lr it steps with
        seen.append(optimizer.param_groups[0]["lr"])
        return real_step(model, batch, optimizer, loss_fn)

    monkeypatch.setattr(training, "train_step", spy)
    batches = len(synthetic[0])
    fit(build_model("simple"), synthetic, TrainConfig(epochs=3, lr=1e-2, lr_schedule="cosine", **QUIET))
    per_epoch = [seen[i * batches] for i in range(3)]
    assert per_epoch[0] == pytest.approx(1e-2)
    assert per_epoch[0] > per_epoch[1] > per_epoch[2] > 0  # cos(pi * e / 3) steps down
    seen.clear()
    fit(build_model("simple"), synthetic, TrainConfig(epochs=2, lr=1e-2, **QUIET))
    assert set(seen) == {1e-2}  # the default keeps it constant


# ---------------------------------------------------------------- the GPU path
@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="needs a CUDA device (none on this machine): checks that fit trains "
                           "on the GPU with the data resident there")
@pytest.mark.parametrize("name", ["simple", "lenet"])
def test_fit_on_cuda_keeps_data_and_model_on_the_device(name):
    torch.manual_seed(0)
    X = torch.randn(512, 1, 28, 28)
    y = (X.mean(dim=(1, 2, 3)) > 0).long()  # learnable: the sign of the mean pixel
    cuda = torch.device("cuda")
    train = TensorLoader(X.to(cuda), y.to(cuda), 64, shuffle=True)
    val = TensorLoader(X[:256].to(cuda), y[:256].to(cuda), 64)
    assert next(iter(train))[0].device.type == "cuda"  # batches are sliced on the device
    model = build_model(name, seed=0)
    history = fit(model, (train, val), TrainConfig(epochs=4, lr=3e-3, **QUIET))
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    loss, acc = evaluate(model, val)
    assert acc > 0.8 and loss == pytest.approx(history["val_loss"].iloc[-1], rel=1e-4)
    cpu = build_model(name, seed=0)  # the same start on the CPU gives the same first logits
    assert torch.allclose(build_model(name, seed=0).to(cuda)(X[:8].to(cuda)).cpu(), cpu(X[:8]), atol=1e-4)
    assert model.last_conv.weight.is_contiguous() and not model.training


def test_fit_is_adam_at_zero_weight_decay_and_decoupled_above(synthetic, monkeypatch):
    def trained(wd, optimizer=None):
        if optimizer is not None:
            monkeypatch.setattr(torch.optim, "AdamW", optimizer)
        model = build_model("simple", seed=0)
        fit(model, synthetic, TrainConfig(epochs=2, lr=3e-3, weight_decay=wd, **QUIET))
        monkeypatch.undo()
        return model

    adamw0 = trained(0.0)
    assert _same_state(adamw0, trained(0.0, torch.optim.Adam))  # bit-identical: the defaults' runs are Adam's
    decoupled, coupled = trained(0.1), trained(0.1, torch.optim.Adam)
    assert not _same_state(decoupled, coupled) and not _same_state(decoupled, adamw0)
    seen = []
    real = torch.optim.AdamW.__init__

    def spy(self, params, **kwargs):
        seen.append(kwargs["weight_decay"])
        return real(self, params, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "__init__", spy)
    fit(build_model("simple"), synthetic, TrainConfig(epochs=1, weight_decay=0.3, **QUIET))
    assert seen == [0.3]


def test_track_test_records_test_accuracy_without_changing_training(synthetic):
    a, b = build_model("lenet", seed=1), build_model("lenet", seed=1)
    plain = fit(a, synthetic, TrainConfig(epochs=2, **QUIET))
    tracked = fit(b, synthetic, TrainConfig(epochs=2, **QUIET), track_test=True)
    assert _same_state(a, b)  # reading the test set changes nothing
    assert list(tracked.columns) == list(plain.columns) + ["test_loss", "test_acc"]
    pd_cols = ["train_loss", "train_acc", "val_loss", "val_acc"]
    assert tracked[pd_cols].equals(plain[pd_cols])
    assert tracked["test_acc"].iloc[-1] == pytest.approx(evaluate(b, synthetic[2])[1])
    with pytest.raises(ValueError, match="track_test"):
        fit(build_model("lenet"), synthetic[:2], TrainConfig(epochs=1, **QUIET), track_test=True)
