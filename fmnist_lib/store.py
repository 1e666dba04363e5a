"""A result store keyed by what produced each result, so every chapter can run alone.

An entry is a folder ``results/<profile>/<name>-<key>/`` where ``key`` hashes the entry's
spec (profile settings, hyperparameters, seed), the library version and its source code.
A changed config or library therefore never reads a stale entry. Entries are written to a
temporary folder and renamed into place, so an interrupted run leaves no half entry.

Values are stored by type, never pickled: DataFrames as CSV, arrays as ``.npy``
(``allow_pickle=False``), state dicts as ``.pt`` (loaded with ``weights_only=True``), and
everything else as JSON.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from .config import project_root

__all__ = ["ResultStore", "project_root", "default_store", "source_hash"]

PACKAGE_DIR = Path(__file__).resolve().parent


# Modules that only draw or format: editing them never changes a stored result.
PRESENTATION = {"evaluation_plots.py", "tuning_plots.py", "gradcam_plots.py", "report.py", "__main__.py",
                "cluster.py"}  # where the grid search runs, not what it computes


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """Hash of the library's computing modules: results change when the code that made them does."""
    h = hashlib.sha256()
    for path in sorted(p for p in PACKAGE_DIR.glob("*.py") if p.name not in PRESENTATION):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _is_state_dict(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


class ResultStore:
    """Folder of results keyed by their spec.

    Parameters
    ----------
    root : path
        ``results/<profile>`` usually; created on first write.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def key(self, name: str, spec: dict[str, Any]) -> str:
        """16 hex digits hashing ``name``, ``spec``, the library version and source."""
        from . import __version__

        payload = json.dumps({"name": name, "spec": spec, "version": __version__,
                              "source": source_hash()}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def path(self, name: str, spec: dict[str, Any]) -> Path:
        return self.root / f"{name}-{self.key(name, spec)}"

    def exists(self, name: str, spec: dict[str, Any]) -> bool:
        return (self.path(name, spec) / "manifest.json").is_file()

    def save(self, name: str, spec: dict[str, Any], items: dict[str, Any]) -> Path:
        """Write ``items`` atomically; returns the entry's folder."""
        final = self.path(name, spec)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        manifest: dict[str, Any] = {"name": name, "spec": spec, "files": {}, "json": {},
                                    "written": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            for k, v in items.items():
                if isinstance(v, pd.DataFrame):
                    v.to_csv(tmp / f"{k}.csv", index=False)
                    manifest["files"][k] = f"{k}.csv"
                elif isinstance(v, np.ndarray):
                    np.save(tmp / f"{k}.npy", v, allow_pickle=False)
                    manifest["files"][k] = f"{k}.npy"
                elif _is_state_dict(v):
                    torch.save({n: t.detach().cpu().contiguous() for n, t in v.items()}, tmp / f"{k}.pt")
                    manifest["files"][k] = f"{k}.pt"
                else:
                    json.dumps(v)  # raises TypeError now, not at load time
                    manifest["json"][k] = v
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
            if final.exists():  # written meanwhile by another process: same key, same content
                shutil.rmtree(tmp)
            else:
                os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def load(self, name: str, spec: dict[str, Any]) -> dict[str, Any] | None:
        """The entry's items, or ``None`` when it has not been computed."""
        folder = self.path(name, spec)
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            return None
        manifest = json.loads(manifest_path.read_text())
        out = dict(manifest["json"])
        for k, fname in manifest["files"].items():
            path = folder / fname
            if fname.endswith(".csv"):
                out[k] = pd.read_csv(path)
            elif fname.endswith(".npy"):
                out[k] = np.load(path, allow_pickle=False)
            else:
                out[k] = torch.load(path, map_location="cpu", weights_only=True)
        return out

    def get_or_compute(self, name: str, spec: dict[str, Any],
                       compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Load the entry, or ``compute()`` it, store it and return what was stored.

        The compute wall time is stored with the entry as ``_seconds``.
        """
        found = self.load(name, spec)
        if found is not None:
            return found
        start = time.perf_counter()
        items = compute()
        items["_seconds"] = time.perf_counter() - start
        self.save(name, spec, items)
        return self.load(name, spec)


def default_store(profile_name: str) -> ResultStore:
    """``$FMNIST_RESULTS/<profile>``, else ``<project root>/results/<profile>``."""
    base = Path(os.environ["FMNIST_RESULTS"]) if os.environ.get("FMNIST_RESULTS") \
        else project_root() / "results"
    return ResultStore(base / profile_name)
