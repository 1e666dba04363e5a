import json

import numpy as np
import pandas as pd
import pytest
import torch

from fmnist_lib import store as store_mod
from fmnist_lib.models import SimpleCNN
from fmnist_lib.store import ResultStore, project_root


def items():
    model = SimpleCNN()
    return {"table": pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]}),
            "proba": np.random.rand(4, 10).astype(np.float32),
            "weights": model.state_dict(), "acc": 0.9, "best": {"lr": 1e-3, "batch_size": 64}}


def test_round_trip_keeps_every_type(tmp_path):
    s = ResultStore(tmp_path)
    original = items()
    s.save("entry", {"seed": 0}, original)
    loaded = s.load("entry", {"seed": 0})
    pd.testing.assert_frame_equal(loaded["table"], original["table"])
    np.testing.assert_array_equal(loaded["proba"], original["proba"])
    assert loaded["proba"].dtype == np.float32
    for k, v in original["weights"].items():
        assert torch.equal(loaded["weights"][k], v)
    assert loaded["acc"] == 0.9 and loaded["best"] == {"lr": 1e-3, "batch_size": 64}


def test_key_changes_with_spec_and_name(tmp_path):
    s = ResultStore(tmp_path)
    base = s.key("final", {"seed": 0, "lr": 1e-3})
    assert s.key("final", {"lr": 1e-3, "seed": 0}) == base  # order does not matter
    assert s.key("final", {"seed": 1, "lr": 1e-3}) != base
    assert s.key("final", {"seed": 0, "lr": 3e-3}) != base
    assert s.key("grid", {"seed": 0, "lr": 1e-3}) != base


def test_key_changes_with_library_source(tmp_path, monkeypatch):
    s = ResultStore(tmp_path)
    before = s.key("final", {"seed": 0})
    monkeypatch.setattr(store_mod, "source_hash", lambda: "0" * 16)
    assert s.key("final", {"seed": 0}) != before


def test_changed_config_never_reads_stale_entry(tmp_path):
    s = ResultStore(tmp_path)
    s.get_or_compute("grid", {"lr": 1e-3}, lambda: {"acc": 0.5})
    calls = []
    out = s.get_or_compute("grid", {"lr": 3e-3}, lambda: calls.append(1) or {"acc": 0.7})
    assert calls == [1] and out["acc"] == 0.7


def test_get_or_compute_computes_once_and_records_seconds(tmp_path):
    s = ResultStore(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"acc": 0.8}

    first = s.get_or_compute("x", {"a": 1}, compute)
    second = s.get_or_compute("x", {"a": 1}, compute)
    assert calls == [1]
    assert first == second and first["_seconds"] >= 0


def test_crash_during_write_leaves_no_entry_and_resumes(tmp_path, monkeypatch):
    s = ResultStore(tmp_path)
    real_save = np.save

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(np, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        s.get_or_compute("final", {"seed": 0}, items)
    assert not s.exists("final", {"seed": 0})
    assert list(tmp_path.iterdir()) == []  # no half entry, no temporary folder
    monkeypatch.setattr(np, "save", real_save)
    out = s.get_or_compute("final", {"seed": 0}, items)
    assert s.exists("final", {"seed": 0}) and out["proba"].shape == (4, 10)


def test_unserialisable_value_fails_before_anything_is_written(tmp_path):
    s = ResultStore(tmp_path)
    with pytest.raises(TypeError):
        s.save("bad", {}, {"model": SimpleCNN()})
    assert list(tmp_path.iterdir()) == []


def test_manifest_is_readable_json_and_weights_load_weights_only(tmp_path, monkeypatch):
    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, items())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["spec"] == {"seed": 0} and manifest["files"]["weights"] == "weights.pt"
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    s.load("final", {"seed": 0})
    assert seen.get("weights_only") is True


def test_project_root_is_found_from_a_chapter_folder(tmp_path):
    (tmp_path / "_quarto.yml").write_text("project: {}\n")
    (tmp_path / "chapters").mkdir()
    assert project_root(tmp_path / "chapters") == tmp_path.resolve()
