"""A result store keyed by what produced each result, so every chapter can run alone.

An entry is a folder ``results/<profile>/<name>-<key>/`` where ``key`` hashes the entry's
spec (profile settings, hyperparameters, seed), the library version and the source of the
code that computes it (:func:`fmnist_lib.pipeline.registry.stage_source`). A changed config
or changed computing code therefore never reads a stale entry. Entries are written to a
temporary folder and renamed into place, so an interrupted run leaves no half entry.

Values are stored by type, never pickled: DataFrames as CSV, arrays as ``.npy``
(``allow_pickle=False``), state dicts as ``.pt`` (loaded with ``weights_only=True``), and
everything else as JSON. The manifest records each file's size and SHA-256; reading verifies
them, and a damaged entry is reported, moved to ``.damaged/`` and recomputed, never returned.
Listing and pruning stale entries live in :mod:`fmnist_lib.pipeline.store_admin`.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

# numpy, pandas and torch are imported where values are written or read, so listing and
# pruning the store (``python -m fmnist_lib store list``) never imports them.
from ..config import project_root
from ..errors import StoreError
from .registry import entry_source

__all__ = ["ResultStore", "project_root", "default_store", "results_root", "source_hash"]

FORMAT = 2  # manifest format: 2 records the size and SHA-256 of every file
DAMAGED = ".damaged"  # damaged entries are moved here, under the profile's folder
log = logging.getLogger(__name__)

def source_hash(name: str) -> str:
    """Hash of the code that computes entries called ``name`` (see :mod:`fmnist_lib.pipeline.registry`)."""
    return entry_source(name)


def file_digest(path: Path) -> dict[str, Any]:
    """``{"size": bytes, "sha256": hex}`` of one file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"size": path.stat().st_size, "sha256": h.hexdigest()}


class DamagedEntry(Exception):
    """An entry whose manifest or files do not match what was written (internal)."""


def _is_state_dict(value: Any) -> bool:
    import torch

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
        """16 hex digits hashing ``name``, ``spec``, the library version and ``source_hash(name)``."""
        from .. import __version__

        payload = json.dumps({"name": name, "spec": spec, "version": __version__,
                              "source": source_hash(name)}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def path(self, name: str, spec: dict[str, Any]) -> Path:
        return self.root / f"{name}-{self.key(name, spec)}"

    def exists(self, name: str, spec: dict[str, Any]) -> bool:
        return (self.path(name, spec) / "manifest.json").is_file()

    def save(self, name: str, spec: dict[str, Any], items: dict[str, Any]) -> Path:
        """Write ``items`` atomically, with each file's size and SHA-256; returns the entry's folder.

        Raises
        ------
        StoreError
            When the folder cannot be written (permissions, full disk, a file in the way).
        """
        import numpy as np
        import pandas as pd
        import torch

        from .. import __version__

        final = self.path(name, spec)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        manifest: dict[str, Any] = {"format": FORMAT, "name": name, "spec": spec, "files": {},
                                    "json": {}, "checksums": {}, "version": __version__,
                                    "source": source_hash(name), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
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
            for fname in manifest["files"].values():
                manifest["checksums"][fname] = file_digest(tmp / fname)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
            self._move_into_place(tmp, final)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(str(self.root), f"cannot write the result {final.name} "
                             f"({err.strerror or err})", WRITABLE_FIX) from err
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def _move_into_place(self, tmp: Path, final: Path) -> None:
        if final.exists():
            try:
                self.verify(final)
                shutil.rmtree(tmp)  # written meanwhile by another process: same key, same content
                return
            except DamagedEntry as err:
                self.set_aside(final, str(err))
        try:
            os.rename(tmp, final)
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            shutil.rmtree(tmp)  # another process renamed its copy first

    def verify(self, folder: Path) -> dict[str, Any]:
        """The entry's manifest, after checking every file's size and SHA-256.

        Raises
        ------
        DamagedEntry
            Saying which file is missing, truncated or changed.
        """
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
        except FileNotFoundError:
            raise DamagedEntry("no manifest.json: a partial entry") from None
        except (ValueError, UnicodeDecodeError) as err:
            raise DamagedEntry(f"manifest.json is not valid JSON ({err})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise DamagedEntry("no checksums in manifest.json (written by an older library)")
        if not all(isinstance(manifest.get(k), dict) for k in ("files", "json", "checksums")):
            raise DamagedEntry("manifest.json is incomplete")
        for fname in manifest["files"].values():
            expected, path = manifest["checksums"].get(fname), folder / fname
            if expected is None or not path.is_file():
                raise DamagedEntry(f"{fname} is missing")
            size = path.stat().st_size
            if size != expected["size"]:
                raise DamagedEntry(f"{fname} has {size} bytes, expected {expected['size']}")
            if file_digest(path)["sha256"] != expected["sha256"]:
                raise DamagedEntry(f"{fname} does not match its SHA-256")
        return manifest

    def set_aside(self, folder: Path, reason: str) -> Path:
        """Move a damaged entry to ``.damaged/<entry>-<time>`` and say so on the log."""
        dest = self.root / DAMAGED / f"{folder.name}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(folder, dest)
        except FileNotFoundError:
            pass  # another process set it aside first
        log.warning("result entry %s is damaged (%s): moved to %s; it will be recomputed.",
                    folder, reason, dest)
        return dest

    def load(self, name: str, spec: dict[str, Any]) -> dict[str, Any] | None:
        """The entry's verified items, or ``None`` when it is not computed (or was damaged)."""
        folder = self.path(name, spec)
        if not folder.exists():
            return None
        import numpy as np
        import pandas as pd
        import torch

        try:
            manifest = self.verify(folder)
            out = dict(manifest["json"])
            for k, fname in manifest["files"].items():
                path = folder / fname
                if fname.endswith(".csv"):
                    out[k] = pd.read_csv(path)
                elif fname.endswith(".npy"):
                    out[k] = np.load(path, allow_pickle=False)
                else:
                    out[k] = torch.load(path, map_location="cpu", weights_only=True)
        except OSError as err:  # permissions, disk errors: not the entry's fault, so not set aside
            raise StoreError(str(folder), f"cannot be read ({err.strerror or err})",
                             "Make it readable, or point FMNIST_RESULTS at another folder.") from err
        except DamagedEntry as err:
            self.set_aside(folder, str(err))
            return None
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
        folder = self.save(name, spec, items)
        found = self.load(name, spec)
        if found is None:
            raise StoreError(str(folder), "was written but could not be read back intact",
                             "Check the disk (free space, errors) or set FMNIST_RESULTS to another folder.")
        return found


WRITABLE_FIX = ("Point FMNIST_RESULTS at a writable folder (it is created when missing), "
                "or make this one writable.")


def results_root() -> Path:
    """``$FMNIST_RESULTS`` when set, else ``<project root>/results``."""
    env = os.environ.get("FMNIST_RESULTS")
    return Path(env).expanduser().absolute() if env else project_root() / "results"


@functools.lru_cache(maxsize=8)
def check_writable(folder: Path) -> Path:
    """Create ``folder`` if needed and write a probe file there; returns ``folder``.

    Raises
    ------
    StoreError
        Naming ``FMNIST_RESULTS`` when it chose the folder, the cause and the fix.
    """
    env = os.environ.get("FMNIST_RESULTS")
    what = f"FMNIST_RESULTS={env}" if env and folder.is_relative_to(results_root()) else str(folder)
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise StoreError(what, f"{blocker} is a file, not a folder", WRITABLE_FIX)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise StoreError(what, f"cannot be created or written ({err.strerror or err})", WRITABLE_FIX) from err
    return folder


def default_store(profile_name: str) -> ResultStore:
    """The checked, writable ``results_root() / profile_name``.

    Raises
    ------
    StoreError
        Before any work when that folder cannot be created or written.
    """
    return ResultStore(check_writable(results_root() / profile_name))
