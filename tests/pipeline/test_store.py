import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch

from fmnist_lib.pipeline import store as store_mod
from fmnist_lib.models import SimpleCNN
from fmnist_lib.pipeline.store import ResultStore, project_root


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
    monkeypatch.setattr(store_mod, "source_hash", lambda name: "0" * 16)
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
    # the code that computed it: the entry's own source hash (a declared stage's, not the ad-hoc one)
    from fmnist_lib.pipeline.registry import entry_source
    grid = json.loads((s.save("grid", {"lr": 1}, {"acc": 0.5}) / "manifest.json").read_text())
    assert grid["source"] == entry_source("grid") != entry_source("an ad-hoc entry")
    assert manifest["source"] == entry_source("final")
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


# ------------------------------------------------------------ verification and healing


def _damage_truncate(folder):
    path = folder / "proba.npy"
    path.write_bytes(path.read_bytes()[:-7])


def _damage_flip_byte(folder):
    path = folder / "weights.pt"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size: only the SHA-256 can tell
    path.write_bytes(bytes(raw))


def _damage_remove_file(folder):
    (folder / "table.csv").unlink()


def _damage_manifest(folder):
    path = folder / "manifest.json"
    path.write_text(path.read_text()[:40])


def _damage_no_manifest(folder):
    (folder / "manifest.json").unlink()


DAMAGES = {"truncated npy": (_damage_truncate, "proba.npy has"),
           "flipped byte in weights": (_damage_flip_byte, "weights.pt does not match its SHA-256"),
           "missing file": (_damage_remove_file, "table.csv is missing"),
           "truncated manifest": (_damage_manifest, "manifest.json is not valid JSON"),
           "no manifest": (_damage_no_manifest, "no manifest.json")}


@pytest.mark.parametrize("case", DAMAGES, ids=list(DAMAGES))
def test_damaged_entry_is_reported_set_aside_and_recomputed(case, tmp_path, caplog):
    damage, reason = DAMAGES[case]
    s = ResultStore(tmp_path)
    original = items()
    folder = s.save("final", {"seed": 0}, original)
    damage(folder)
    calls = []
    with caplog.at_level("WARNING", logger="fmnist_lib.pipeline.store"):
        out = s.get_or_compute("final", {"seed": 0}, lambda: calls.append(1) or items())
    assert calls == [1]  # recomputed, not read
    assert out["proba"].shape == (4, 10) and set(out) >= set(original)
    aside = list((tmp_path / ".damaged").iterdir())
    assert len(aside) == 1 and aside[0].name.startswith(folder.name + "-")
    message = caplog.text
    assert str(folder) in message and reason in message and str(aside[0]) in message
    assert s.load("final", {"seed": 0}) is not None  # the recomputed entry is intact


def test_damaged_entry_is_never_returned_by_load(tmp_path):
    s = ResultStore(tmp_path)
    _damage_truncate(s.save("final", {"seed": 0}, items()))
    assert s.load("final", {"seed": 0}) is None
    assert not s.path("final", {"seed": 0}).exists()


def test_manifest_records_size_and_sha256_of_every_file(tmp_path):
    import hashlib

    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, items())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["checksums"]) == set(manifest["files"].values()) == {
        "table.csv", "proba.npy", "weights.pt"}
    for fname, expected in manifest["checksums"].items():
        raw = (folder / fname).read_bytes()
        assert expected == {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def test_entry_without_checksums_is_not_read(tmp_path):
    """Entries of the older manifest format carry no checksums: recomputed, never trusted."""
    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, items())
    manifest = json.loads((folder / "manifest.json").read_text())
    for k in ("format", "checksums"):
        del manifest[k]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert s.load("final", {"seed": 0}) is None


def test_save_over_a_damaged_entry_replaces_it(tmp_path, caplog):
    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, items())
    _damage_truncate(folder)
    with caplog.at_level(logging.WARNING, logger="fmnist_lib.store"):
        s.save("final", {"seed": 0}, items())  # e.g. a concurrent run that did not read it
    assert s.load("final", {"seed": 0})["proba"].shape == (4, 10)
    assert len(list((tmp_path / ".damaged").iterdir())) == 1
    # the warning gives the verification's reason (the truncated file), not a placeholder
    said = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(said) == 1 and "proba.npy" in said[0].split("is damaged (", 1)[1] and "(None)" not in said[0]


def _compute_in_child(root, queue):
    s = ResultStore(root)
    out = s.get_or_compute("final", {"seed": 0}, lambda: {"proba": np.arange(40.0).reshape(4, 10)})
    queue.put(out["proba"].sum())


def test_two_concurrent_runs_agree(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_compute_in_child, args=(tmp_path, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert [queue.get(timeout=5) for _ in procs] == [780.0, 780.0]
    assert [p.name for p in tmp_path.iterdir()] == [ResultStore(tmp_path).path("final", {"seed": 0}).name]


def test_unwritable_store_raises_store_error_naming_the_folder(tmp_path):
    from fmnist_lib.errors import StoreError

    (tmp_path / "file").write_text("x")
    s = ResultStore(tmp_path / "file" / "quick")
    with pytest.raises(StoreError, match=f"^{tmp_path / 'file' / 'quick'}: cannot write the result final-") as err:
        s.save("final", {"seed": 0}, {"acc": 0.5})
    assert "FMNIST_RESULTS" in str(err.value) and err.value.exit_code == 4


# ------------------------------------------------------------ FMNIST_RESULTS


@pytest.fixture
def results_env(monkeypatch):
    store_mod.check_writable.cache_clear()
    yield lambda value: monkeypatch.setenv("FMNIST_RESULTS", str(value))
    store_mod.check_writable.cache_clear()


def test_fmnist_results_is_created_when_missing(tmp_path, results_env):
    results_env(tmp_path / "new" / "results")
    s = store_mod.default_store("quick")
    assert s.root == tmp_path / "new" / "results" / "quick" and s.root.is_dir()
    assert list(s.root.iterdir()) == []  # the write probe is removed


@pytest.mark.parametrize("case", ["a file", "below a file", "unwritable"])
def test_unusable_fmnist_results_fails_fast_naming_the_variable(case, tmp_path, results_env):
    from fmnist_lib.errors import StoreError

    (tmp_path / "f").write_text("x")
    value = {"a file": tmp_path / "f", "below a file": tmp_path / "f" / "sub",
             # not writable even by root: a missing folder inside /proc cannot be created
             "unwritable": "/proc/fmnist-results"}[case]
    results_env(value)
    with pytest.raises(StoreError) as err:
        store_mod.default_store("quick")
    message = str(err.value)
    assert message.startswith(f"FMNIST_RESULTS={value}: ")
    assert ("is a file, not a folder" if case != "unwritable" else "cannot be created or written") in message
    assert "writable folder" in message


# ------------------------------------------------------------ list and prune


def _store_with_every_status(tmp_path, monkeypatch):
    s = ResultStore(tmp_path)
    current = s.save("grid", {"lr": 1}, {"acc": 0.5, "proba": np.zeros(3)})
    damaged = s.save("final", {"seed": 0}, items())
    _damage_truncate(damaged)
    aside = s.save("final", {"seed": 1}, items())
    s.set_aside(aside, "test")
    monkeypatch.setattr(store_mod, "source_hash", lambda name: "0" * 16)
    stale = s.save("grid", {"lr": 1}, {"acc": 0.4})  # same spec, older library sources
    monkeypatch.undo()
    partial = tmp_path / ".final-0123456789abcdef.tmp-999999999"
    partial.mkdir()
    return s, {"current": current, "damaged": damaged, "stale": stale, "partial": partial}


def test_scan_gives_every_entry_its_status(tmp_path, monkeypatch):
    from fmnist_lib.pipeline.store_admin import scan

    s, folders = _store_with_every_status(tmp_path, monkeypatch)
    status = {e.folder: e.status for e in scan(s)}
    for expected, folder in folders.items():
        assert status.pop(folder) == expected
    assert list(status.values()) == ["set aside"]


def test_prune_dry_run_removes_nothing_then_prune_keeps_only_current(tmp_path, monkeypatch):
    from fmnist_lib.pipeline.store_admin import prune, scan

    s, folders = _store_with_every_status(tmp_path, monkeypatch)
    before = sorted(p for p in tmp_path.rglob("*"))
    would = prune(s, dry_run=True)
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert {e.status for e in would} == {"damaged", "stale", "set aside", "partial"}
    removed = prune(s)
    assert [e.folder for e in removed] == [e.folder for e in would]
    assert [(e.folder, e.status) for e in scan(s)] == [(folders["current"], "current")]
    assert sorted(p.name for p in tmp_path.iterdir()) == [folders["current"].name]
    assert s.load("grid", {"lr": 1})["acc"] == 0.5


def test_prune_keeps_a_write_in_progress(tmp_path):
    import os

    from fmnist_lib.pipeline.store_admin import prune, scan

    s = ResultStore(tmp_path)
    running = tmp_path / f".final-0123456789abcdef.tmp-{os.getpid()}"
    running.mkdir()
    assert [e.status for e in scan(s)] == ["in progress"]
    assert prune(s) == [] and running.is_dir()


def test_incomplete_manifest_is_damaged(tmp_path):
    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, items())
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert s.load("final", {"seed": 0}) is None and (tmp_path / ".damaged").is_dir()


def test_unreadable_entry_is_a_store_error_and_stays_in_place(tmp_path, monkeypatch):
    """Permissions or a disk error are not damage: say so, move nothing (root ignores chmod)."""
    from fmnist_lib.errors import StoreError

    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, items())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store_mod, "file_digest", denied)
    with pytest.raises(StoreError, match=f"^{folder}: cannot be read \\(Permission denied\\)"):
        s.load("final", {"seed": 0})
    assert folder.is_dir() and not (tmp_path / ".damaged").exists()


# ------------------------------------------------------------ files their reader refuses (issue 24)


def _forge(folder, fname, data: bytes | None = None, edit=None):
    """Change an entry as someone who can write the folder would: new content, and a manifest
    whose sizes, SHA-256s and own digest all match it (so only the readers can tell)."""
    import hashlib

    manifest = json.loads((folder / "manifest.json").read_text())
    if data is not None:
        (folder / fname).write_bytes(data)
        manifest["checksums"][fname] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if edit is not None:
        edit(manifest)
    manifest.pop("digest")
    manifest["digest"] = store_mod.manifest_digest(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


class _Planted:
    """Unpickling this would create the file ``path``: proof that nothing was unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _pickled_weights(folder, tmp_path):
    import io

    buf = io.BytesIO()
    torch.save({"conv.weight": _Planted(tmp_path / "EXECUTED")}, buf)  # a pickled object, not tensors
    _forge(folder, "weights.pt", buf.getvalue())


def _pickled_npy(folder, tmp_path):
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([_Planted(tmp_path / "EXECUTED")], dtype=object), allow_pickle=True)
    _forge(folder, "proba.npy", buf.getvalue())


def _npz_as_npy(folder, tmp_path):
    import io

    buf = io.BytesIO()
    np.savez(buf, a=np.zeros(3))
    _forge(folder, "proba.npy", buf.getvalue())


def _tensor_list_as_weights(folder, tmp_path):
    import io

    buf = io.BytesIO()
    torch.save([torch.zeros(2)], buf)  # weights_only loads it, but it is no state dict
    _forge(folder, "weights.pt", buf.getvalue())


def _csv_that_does_not_parse(folder, tmp_path):
    _forge(folder, "table.csv", b'a,b\n"1,2\n')


def _empty_csv(folder, tmp_path):
    _forge(folder, "table.csv", b"")


def _unknown_file_type(folder, tmp_path):
    (folder / "table.pkl").write_bytes((folder / "table.csv").read_bytes())

    def edit(m):
        m["files"]["table"] = "table.pkl"
        m["checksums"]["table.pkl"] = m["checksums"].pop("table.csv")
    _forge(folder, None, edit=edit)


def _file_outside_the_entry(folder, tmp_path):
    def edit(m):
        m["files"]["table"] = "../table.csv"
    _forge(folder, None, edit=edit)


def _checksums_not_a_record(folder, tmp_path):
    def edit(m):
        m["checksums"]["table.csv"] = "0"
    _forge(folder, None, edit=edit)


REFUSED = {"pickled object in weights.pt": (_pickled_weights, "weights.pt is refused by its reader (UnpicklingError: "
                                                              "it holds objects other than tensors; nothing of it was loaded)"),
           "pickled object array in .npy": (_pickled_npy, "proba.npy is refused by its reader (ValueError"),
           ".npz content in .npy": (_npz_as_npy, "proba.npy is not one array (NpzFile)"),
           "tensor list in weights.pt": (_tensor_list_as_weights, "weights.pt is not a state dict of tensors (list)"),
           "CSV that does not parse": (_csv_that_does_not_parse, "table.csv is refused by its reader (ParserError"),
           "empty CSV": (_empty_csv, "table.csv is refused by its reader (EmptyDataError"),
           "unknown file type": (_unknown_file_type, "names a file of unknown type or place: 'table.pkl'"),
           "file outside the entry": (_file_outside_the_entry, "unknown type or place: '../table.csv'"),
           "checksum not a record": (_checksums_not_a_record, "has no size and SHA-256 for table.csv")}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_file_its_reader_refuses_is_a_damaged_entry(case, tmp_path, caplog):
    forge, reason = REFUSED[case]
    s = ResultStore(tmp_path / "store")
    folder = s.save("final", {"seed": 0}, items())
    forge(folder, tmp_path)
    if "pickled" in case:  # the forgery is consistent: every size and SHA-256 matches
        s.verify(folder)
    calls = []
    with caplog.at_level("WARNING", logger="fmnist_lib.pipeline.store"):
        out = s.get_or_compute("final", {"seed": 0}, lambda: calls.append(1) or items())
    assert not (tmp_path / "EXECUTED").exists()  # nothing was unpickled
    assert calls == [1] and out["proba"].shape == (4, 10)
    records = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(records) == 1 and records[0].exc_info is None  # one message, no traceback
    message = records[0].getMessage()
    assert str(folder) in message and reason in message and "\n" not in message
    assert len(list((tmp_path / "store" / ".damaged").iterdir())) == 1
    assert s.load("final", {"seed": 0}) is not None


def _change_verdict(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["json"]["verdict"] = "equivalent"  # every file's SHA-256 still matches
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def test_changed_json_item_is_detected_as_damage(tmp_path, caplog):
    s = ResultStore(tmp_path)
    folder = s.save("comparison", {"n": 1}, {"verdict": "inconclusive", "ci": [-0.01, 0.02],
                                             "table": pd.DataFrame({"a": [1]})})
    _change_verdict(folder)
    with caplog.at_level("WARNING", logger="fmnist_lib.pipeline.store"):
        out = s.get_or_compute("comparison", {"n": 1}, lambda: {"verdict": "inconclusive"})
    assert out["verdict"] == "inconclusive"
    assert "manifest.json does not match its SHA-256" in caplog.text and str(folder) in caplog.text


def test_manifest_digest_survives_every_json_value(tmp_path):
    """The digest is taken over what a reader parses: floats, NaN, tuples, int keys, unicode."""
    s = ResultStore(tmp_path)
    value = {"nan": float("nan"), "inf": float("-inf"), "small": 1e-300, "third": 1 / 3,
             "tuple": (1, 2.5), "int keys": {1: "a"}, "text": "é ≤ 1 %", "nested": [[{"x": None}]]}
    s.save("x", {"seed": (0, 1)}, {"v": value})
    loaded = s.load("x", {"seed": (0, 1)})["v"]
    assert loaded["third"] == 1 / 3 and np.isnan(loaded["nan"]) and loaded["tuple"] == [1, 2.5]
    assert loaded["int keys"] == {"1": "a"} and loaded["text"] == "é ≤ 1 %"


def test_older_manifest_format_is_stale_not_read(tmp_path):
    """An entry of format 2 (files verified, JSON items not) is never served; `store list` calls it stale."""
    from fmnist_lib.pipeline.store_admin import scan

    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, items())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format"] = 2
    del manifest["digest"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    [entry] = scan(s)
    assert entry.status == "stale" and "manifest format 2" in entry.reason
    assert s.load("final", {"seed": 0}) is None


def test_damaged_final_run_is_retrained_by_train_runs(tmp_path, monkeypatch):
    """The stage that loads stored runs sets a refused one aside and trains it again."""
    from fmnist_lib.pipeline import dispatch, runs
    from fmnist_lib.config import PROFILES, DEFAULTS

    p = PROFILES["quick"]
    s = ResultStore(tmp_path)
    monkeypatch.setattr(dispatch, "default_store", lambda name: s)
    trained = []

    def fake_train(name, config, data):
        trained.append(config.seed)
        return {"weights": SimpleCNN().state_dict(), "history": pd.DataFrame({"val_acc": [0.5]}),
                "val_logits": np.zeros((3, 10), np.float32), "test_logits": np.zeros((3, 10), np.float32),
                "seconds": 1.0, "epochs_run": 1, "best_epoch": 1}

    monkeypatch.setattr(dispatch, "train_run", fake_train)
    jobs = [("simple", runs.run_config(p, DEFAULTS, seed)) for seed in (0, 1)]
    dispatch.train_runs(p, jobs, n_jobs=1)
    _pickled_weights(s.path(runs.ENTRY, runs.run_spec(p, "simple", jobs[1][1])), tmp_path)
    out = dispatch.train_runs(p, jobs, n_jobs=1)
    assert trained == [0, 1, 1] and [r["seed"] for r in out] == [0, 1]
    assert not (tmp_path / "EXECUTED").exists()


# ------------------------------------------------------------ a full disk (issue 24)


def test_full_disk_names_the_cause_free_space_and_fix(tmp_path, monkeypatch):
    import errno

    from fmnist_lib.pipeline import store_files
    from fmnist_lib.errors import StoreError

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    from collections import namedtuple

    from fmnist_lib.pipeline import store_admin
    from fmnist_lib.config import STORE_SIZE_ESTIMATE_MB

    s = ResultStore(tmp_path / "quick")
    monkeypatch.setattr(store_files.os, "write", full)
    monkeypatch.setattr(store_admin.shutil, "disk_usage",
                        lambda p: namedtuple("usage", "total used free")(0, 0, 1_500_000))
    with pytest.raises(StoreError) as err:
        s.save("final", {"seed": 0}, items())
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'quick'}: no space left on device while writing the result final-")
    assert f"(1.5 MB free there; a quick run stores about {STORE_SIZE_ESTIMATE_MB['quick']} MB)." in message
    assert "Free space on that disk, or point FMNIST_RESULTS at a folder" in message
    assert "writable" not in message and err.value.exit_code == 4
    assert list((tmp_path / "quick").iterdir()) == []  # no partial entry


def _mount_tmpfs(folder, size):
    import subprocess

    folder.mkdir(parents=True)
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {out.stderr.strip()}")


def test_full_disk_on_a_real_3mb_file_system(tmp_path):
    import subprocess

    from fmnist_lib.errors import StoreError

    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "3m")
    try:
        s = ResultStore(disk / "quick")
        s.save("small", {}, {"a": np.zeros(1000, np.float32)})
        with pytest.raises(StoreError, match="no space left on device while writing the result big-") as err:
            s.save("big", {}, {"a": np.zeros(1_000_000, np.float32)})  # 4 MB
        assert "MB free there" in str(err.value)
        assert [p.name for p in (disk / "quick").iterdir()] == [s.path("small", {}).name]
        assert s.load("small", {})["a"].shape == (1000,)
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_space_warning_when_free_space_is_clearly_short(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from fmnist_lib.pipeline import store_admin
    from fmnist_lib.config import STORE_SIZE_ESTIMATE_MB

    usage = namedtuple("usage", "total used free")
    root = tmp_path / "quick"
    root.mkdir()
    estimate = STORE_SIZE_ESTIMATE_MB["quick"] * 1e6
    monkeypatch.setattr(store_admin.shutil, "disk_usage", lambda p: usage(0, 0, int(estimate / 10)))
    warning = store_admin.space_warning(root)
    assert warning.startswith(f"{root}: only ") and "the quick profile still needs about" in warning
    assert "(an estimate)" in warning and "FMNIST_RESULTS" in warning
    monkeypatch.setattr(store_admin.shutil, "disk_usage", lambda p: usage(0, 0, int(estimate * 2)))
    assert store_admin.space_warning(root) is None
    assert shutil.disk_usage is not None


def test_space_warning_counts_what_is_already_stored(tmp_path, monkeypatch):
    from collections import namedtuple

    from fmnist_lib.pipeline import store_admin

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(store_admin, "STORE_SIZE_ESTIMATE_MB", {"quick": 1})  # 1 MB needed in all
    s = ResultStore(tmp_path / "quick")
    monkeypatch.setattr(store_admin.shutil, "disk_usage", lambda p: usage(0, 0, 500_000))
    assert store_admin.space_warning(s.root) is not None  # 0.5 MB free, 1 MB to store
    s.save("x", {}, {"a": np.zeros(200_000, np.float32)})  # 0.8 MB already stored under a current key
    assert store_admin.space_warning(s.root) is None
# --- files larger than one read block (issue 25) -----------------------------------------

BLOCK = 1 << 20  # file_digest reads 1 MiB at a time


@pytest.mark.parametrize("size", [BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12345])
def test_file_digest_of_files_around_and_beyond_one_block_equals_hashlib(size, tmp_path):
    import hashlib

    raw = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(raw)
    assert store_mod.file_digest(path) == {"size": size, "sha256": hashlib.sha256(raw).hexdigest()}


@pytest.mark.parametrize("offset", [0, BLOCK - 1, BLOCK, 2 * BLOCK + 7, -1])
def test_a_changed_byte_in_any_block_of_a_large_entry_is_caught(offset, tmp_path):
    s = ResultStore(tmp_path)
    big = np.random.default_rng(0).random(3 * BLOCK // 8 + 1000)  # about 3 MiB of float64
    folder = s.save("big", {"seed": 0}, {"x": big})
    path = folder / "x.npy"
    assert path.stat().st_size > 3 * BLOCK
    np.testing.assert_array_equal(s.load("big", {"seed": 0})["x"], big)  # intact: read back
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01  # the same size, one bit changed
    path.write_bytes(bytes(raw))
    with pytest.raises(store_mod.DamagedEntry, match="x.npy does not match its SHA-256"):
        s.verify(folder)


@pytest.mark.parametrize("manifest, reason", [
    ("[1, 2]", "manifest.json is not a JSON object"),
    ('{"format": 2}', "manifest format 2, this library reads 3 (written by an older library)"),
    ('{"format": 3}', "manifest.json is incomplete")])
def test_a_manifest_of_the_wrong_shape_is_damaged_with_its_reason(manifest, reason, tmp_path):
    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, items())
    (folder / "manifest.json").write_text(manifest)
    with pytest.raises(store_mod.DamagedEntry) as err:
        s.verify(folder)
    assert str(err.value) == reason
    (folder / "manifest.json").unlink()
    with pytest.raises(store_mod.DamagedEntry, match=r"^no manifest.json: a partial entry$"):
        s.verify(folder)


# --- mutation survivors of the store (issue 25) ---------------------------------------------


@pytest.mark.parametrize("n, text", [(1e9, "1.0 GB"), (1.05e9, "1.1 GB"), (2.5e10, "25.0 GB"),
                                     (999_999_999, "1000.0 MB"), (1.05e6, "1.1 MB"), (0, "0.0 MB")])
def test_mb_says_gigabytes_from_one_billion_bytes(n, text):
    assert store_mod._mb(n) == text


def test_space_note_without_free_space_or_estimate(tmp_path, monkeypatch):
    from collections import namedtuple

    from fmnist_lib.config import STORE_SIZE_ESTIMATE_MB

    def unknown(folder):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(store_mod.shutil, "disk_usage", unknown)
    assert store_mod.space_note(tmp_path / "quick") == (
        f"free space unknown; a quick run stores about {STORE_SIZE_ESTIMATE_MB['quick']} MB")
    monkeypatch.setattr(store_mod.shutil, "disk_usage", lambda p: namedtuple("u", "total used free")(0, 0, 3e9))
    assert store_mod.space_note(tmp_path / "other") == "3.0 GB free there"  # no profile: no estimate


def test_results_root_from_the_project_or_fmnist_results(tmp_path, monkeypatch):
    (tmp_path / "_quarto.yml").write_text("project: {}\n")
    (tmp_path / "chapters").mkdir()
    monkeypatch.chdir(tmp_path / "chapters")
    monkeypatch.delenv("FMNIST_RESULTS", raising=False)
    assert store_mod.results_root() == tmp_path.resolve() / "results"
    monkeypatch.setenv("FMNIST_RESULTS", "")  # empty: as unset
    assert store_mod.results_root() == tmp_path.resolve() / "results"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FMNIST_RESULTS", "~/r")
    assert store_mod.results_root() == tmp_path / "home" / "r"
    monkeypatch.setenv("FMNIST_RESULTS", "rel")
    assert store_mod.results_root() == (tmp_path / "chapters").resolve() / "rel"


def test_a_set_aside_entry_is_named_by_its_folder_time_and_process(tmp_path, caplog):
    import os
    import re
    import time

    s = ResultStore(tmp_path)
    first = s.save("final", {"seed": 0}, items())
    before = time.strftime("%Y%m%dT%H%M%S")
    with caplog.at_level("WARNING", logger="fmnist_lib.pipeline.store"):
        dest = s.set_aside(first, "a test")
    after = time.strftime("%Y%m%dT%H%M%S")
    assert [r.getMessage() for r in caplog.records] == [
        f"result entry {first} is damaged (a test): moved to {dest}; it will be recomputed."]
    m = re.fullmatch(rf"{first.name}-(\d{{8}}T\d{{6}})-{os.getpid()}", dest.name)
    assert m and before <= m.group(1) <= after and dest.parent == tmp_path / ".damaged"
    assert dest.is_dir() and not first.exists()
    second = s.save("final", {"seed": 1}, items())  # .damaged/ exists now: a second one joins it
    assert s.set_aside(second, "test").parent == tmp_path / ".damaged"
    assert len(list((tmp_path / ".damaged").iterdir())) == 2


def test_get_or_compute_records_the_compute_time(tmp_path, monkeypatch):
    import time
    from types import SimpleNamespace

    clock = iter([100.0, 102.5])
    monkeypatch.setattr(store_mod, "time", SimpleNamespace(perf_counter=lambda: next(clock), strftime=time.strftime))
    out = ResultStore(tmp_path).get_or_compute("x", {}, lambda: {"acc": 0.5})
    assert out["_seconds"] == 2.5


def test_an_entry_that_cannot_be_read_back_is_a_store_error(tmp_path, monkeypatch):
    from fmnist_lib.errors import StoreError

    s = ResultStore(tmp_path)
    monkeypatch.setattr(s, "load", lambda name, spec: None)  # e.g. a disk that loses what it was given
    with pytest.raises(StoreError) as err:
        s.save_and_load("final", {"seed": 0}, {"acc": 0.5})
    assert str(err.value) == (f"{s.path('final', {'seed': 0})}: was written but could not be read back intact. "
                              "Check the disk (free space, errors) or set FMNIST_RESULTS to another folder.")
    assert err.value.exit_code == 4


def test_the_manifest_records_what_store_list_reads(tmp_path):
    """Name, spec, format, library version, source hash and the time written; `store list` reads them."""
    import re
    import time

    from fmnist_lib import __version__
    from fmnist_lib.pipeline.store_admin import scan

    s = ResultStore(tmp_path)
    before = time.strftime("%Y-%m-%d %H:%M:%S")
    folder = s.save("final", {"seed": 0}, {"acc": 0.5, "x": np.zeros(3)})
    after = time.strftime("%Y-%m-%d %H:%M:%S")
    m = json.loads((folder / "manifest.json").read_text())
    assert set(m) == {"format", "name", "spec", "files", "json", "checksums", "version", "source", "written", "digest"}
    assert (m["format"], m["name"], m["spec"], m["version"]) == (3, "final", {"seed": 0}, __version__)
    assert m["source"] == store_mod.source_hash("final") and m["json"] == {"acc": 0.5} and m["files"] == {"x": "x.npy"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", m["written"]) and before <= m["written"] <= after
    [entry] = scan(s)
    assert (entry.status, entry.reason) == ("current", f"written {m['written']}")


def test_key_is_16_hex_digits_and_takes_any_spec_value(tmp_path):
    """Values JSON cannot hold (a path, a numpy number) are keyed and recorded by their text."""
    import re
    from pathlib import Path

    s = ResultStore(tmp_path)
    spec = {"data": Path("/data/fmnist"), "lr": np.float32(0.5)}
    assert re.fullmatch(r"[0-9a-f]{16}", s.key("final", spec))
    assert s.key("final", spec) == s.key("final", {"data": "/data/fmnist", "lr": "0.5"})
    folder = s.save("final", spec, {"acc": 0.5})
    assert json.loads((folder / "manifest.json").read_text())["spec"] == {"data": "/data/fmnist", "lr": "0.5"}
    assert s.load("final", spec) == {"acc": 0.5}


def test_a_temporary_folder_left_by_this_process_id_is_cleared_first(tmp_path):
    import os

    s = ResultStore(tmp_path)
    final = s.path("final", {"seed": 0})
    stale = tmp_path / f".{final.name}.tmp-{os.getpid()}"  # an earlier write by a process of this id died
    stale.mkdir()
    (stale / "old.npy").write_bytes(b"old")
    s.save("final", {"seed": 0}, {"x": np.arange(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == [final.name]
    assert sorted(p.name for p in final.iterdir()) == ["manifest.json", "x.npy"]


def test_a_write_in_progress_is_listed_as_in_progress(tmp_path, monkeypatch):
    """The temporary folder's name (`.<entry>.tmp-<pid>`) is what `store list` and `prune` recognise."""
    from fmnist_lib.pipeline import store_files
    from fmnist_lib.pipeline.store_admin import scan

    s = ResultStore(tmp_path)
    seen = []
    real_write = store_files.write_file

    def spy(path, data):
        seen.append([(e.folder.name, e.status) for e in scan(s)])
        real_write(path, data)

    monkeypatch.setattr(store_mod, "write_file", spy)
    s.save("final", {"seed": 0}, {"x": np.arange(3)})
    import os

    assert seen[0] == [(f".{s.path('final', {'seed': 0}).name}.tmp-{os.getpid()}", "in progress")]


def test_saving_an_intact_entry_again_keeps_it_and_leaves_no_temporary(tmp_path):
    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, {"x": np.arange(3)})
    first = (folder / "manifest.json").read_bytes()
    assert s.save("final", {"seed": 0}, {"x": np.arange(3)}) == folder
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]
    assert (folder / "manifest.json").read_bytes() == first  # the entry in place is kept


def test_a_rename_that_loses_the_race_keeps_the_other_copy(tmp_path, monkeypatch):
    """Another process renames its copy into place between the check and our rename: ours goes;
    any other rename error is a StoreError."""
    import errno
    import shutil

    from fmnist_lib.errors import StoreError

    s = ResultStore(tmp_path)
    real_rename = store_mod.os.rename

    def lose(src, dst):
        shutil.copytree(src, dst)  # the other process's identical copy lands first
        raise OSError(errno.ENOTEMPTY, "Directory not empty")

    monkeypatch.setattr(store_mod.os, "rename", lose)
    folder = s.save("final", {"seed": 0}, {"x": np.arange(3)})
    monkeypatch.setattr(store_mod.os, "rename", real_rename)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]
    np.testing.assert_array_equal(s.load("final", {"seed": 0})["x"], np.arange(3))

    def denied(src, dst):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(store_mod.os, "rename", denied)
    with pytest.raises(StoreError, match=r"cannot write the result final-[0-9a-f]{16} \(Permission denied\)"):
        s.save("final", {"seed": 1}, {"x": np.arange(3)})
    monkeypatch.setattr(store_mod.os, "rename", real_rename)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no temporary left


def test_an_interrupt_after_the_rename_stays_an_interrupt(tmp_path, monkeypatch):
    """Ctrl-C while the rename is flushed: the entry is whole, the interrupt is not replaced by
    an error about the temporary folder (already renamed)."""
    def interrupted(folder):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod, "fsync_dir", interrupted)
    s = ResultStore(tmp_path)
    with pytest.raises(KeyboardInterrupt) as err:
        s.save("final", {"seed": 0}, {"x": np.arange(3)})
    assert err.value.__context__ is None
    monkeypatch.undo()
    np.testing.assert_array_equal(s.load("final", {"seed": 0})["x"], np.arange(3))


def test_a_file_in_the_way_is_named_with_the_cause_and_the_fix(tmp_path):
    from fmnist_lib.errors import StoreError

    (tmp_path / "file").write_text("x")
    s = ResultStore(tmp_path / "file" / "quick")
    with pytest.raises(StoreError) as err:
        s.save("final", {"seed": 0}, {"acc": 0.5})
    assert str(err.value) == (f"{tmp_path / 'file' / 'quick'}: cannot write the result "
                              f"{s.path('final', {'seed': 0}).name} (Not a directory). {store_mod.WRITABLE_FIX}")


def test_a_quota_exceeded_is_a_full_disk(tmp_path, monkeypatch):
    import errno

    from fmnist_lib.errors import StoreError
    from fmnist_lib.pipeline import store_files

    def quota(fd, data):
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    monkeypatch.setattr(store_files.os, "write", quota)
    with pytest.raises(StoreError, match="no space left on device while writing the result final-"):
        ResultStore(tmp_path / "quick").save("final", {"seed": 0}, {"x": np.arange(3)})


def test_an_unreadable_entry_names_the_cause_and_the_fix(tmp_path, monkeypatch):
    from fmnist_lib.errors import StoreError

    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, {"x": np.arange(3)})

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store_mod, "file_digest", denied)
    with pytest.raises(StoreError) as err:
        s.load("final", {"seed": 0})
    assert str(err.value) == (f"{folder}: cannot be read (Permission denied). "
                              "Make it readable, or point FMNIST_RESULTS at another folder.")


def test_verify_names_each_defect_of_the_manifest_exactly(tmp_path, monkeypatch):
    from types import SimpleNamespace

    s = ResultStore(tmp_path)
    folder = s.save("final", {"seed": 0}, items())

    good = (folder / "manifest.json").read_text()

    def reason(edit=None, text=None):
        if text is None:
            m = json.loads(good)  # each defect alone, on the intact manifest
            edit(m)
            text = json.dumps(m)
        (folder / "manifest.json").write_text(text)
        with pytest.raises(store_mod.DamagedEntry) as err:
            s.verify(folder)
        return str(err.value)

    assert reason(lambda m: m.pop("format")) == "manifest format 1, this library reads 3 (written by an older library)"
    assert reason(lambda m: m.pop("digest")) == "manifest.json is incomplete"
    assert reason(lambda m: m["json"].update(acc=0.1)) == (
        "manifest.json does not match its SHA-256 (its JSON items or file list changed)")
    for record in ({"size": 10}, {"sha256": "0" * 64}, {"size": "10", "sha256": "0" * 64}):
        def edit(m, record=record):
            m["checksums"]["table.csv"] = record
            m.pop("digest")
            m["digest"] = store_mod.manifest_digest(m)
        assert reason(edit) == "manifest.json has no size and SHA-256 for table.csv"
    long = SimpleNamespace(loads=lambda raw: (_ for _ in ()).throw(ValueError("x" * 300)))
    monkeypatch.setattr(store_mod, "json", long)
    assert reason(text=good) == f"manifest.json is not valid JSON ({'x' * 120})"


def test_manifest_digest_is_sha256_of_canonical_json():
    import hashlib

    body = {"b": [1, 2.5], "a": 1, "c": "é"}
    canonical = b'{"a":1,"b":[1,2.5],"c":"\\u00e9"}'  # sorted keys, no spaces, ASCII only
    assert store_mod.manifest_digest(body) == hashlib.sha256(canonical).hexdigest()


def test_an_empty_dict_is_a_json_item_and_an_object_array_is_refused(tmp_path):
    s = ResultStore(tmp_path)
    folder = s.save("x", {}, {"empty": {}, "weights": {"w": torch.ones(2)}})
    m = json.loads((folder / "manifest.json").read_text())
    assert m["json"] == {"empty": {}} and m["files"] == {"weights": "weights.pt"}
    with pytest.raises(ValueError, match="allow_pickle=False"):
        s.save("y", {}, {"objects": np.array([{"a": 1}], dtype=object)})
    assert not s.path("y", {}).exists()


def test_files_are_written_with_mode_644(tmp_path):
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    folder = ResultStore(tmp_path).save("x", {}, {"a": np.zeros(2)})
    for name in ("a.npy", "manifest.json"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644 & ~umask


def test_a_refusal_message_is_its_first_line_without_colour_codes_cut_at_200(tmp_path, monkeypatch):
    import pandas as pd

    s = ResultStore(tmp_path)
    folder = s.save("x", {}, {"t": pd.DataFrame({"a": [1]})})

    def refuse(message):
        def read_csv(*args, **kwargs):
            raise ValueError(message)
        monkeypatch.setattr(pd, "read_csv", read_csv)
        with pytest.raises(store_mod.DamagedEntry) as err:
            store_mod.read_file(folder / "t.csv")
        return str(err.value)

    assert refuse("  \x1b[31m" + "x" * 250 + "\x1b[0m\nsecond line") == f"t.csv is refused by its reader (ValueError: {'x' * 200})"
    assert refuse("\x1b[1;31mbad\x1b[0m row") == "t.csv is refused by its reader (ValueError: bad row)"
    assert refuse("") == "t.csv is refused by its reader (ValueError: )"


def test_an_entrys_folder_is_its_name_and_the_key_of_that_name(tmp_path):
    from fmnist_lib.pipeline.registry import entry_source

    s, spec = ResultStore(tmp_path), {"lr": 1}
    assert store_mod.source_hash("grid") == entry_source("grid") != entry_source("an ad-hoc entry")
    assert s.path("grid", spec).name == f"grid-{s.key('grid', spec)}"
    assert s.key("grid", spec) != s.key("run", spec)  # the name is part of the key, not only the prefix
