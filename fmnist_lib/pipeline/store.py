"""A result store keyed by what produced each result, so every chapter can run alone.

An entry is a folder ``results/<profile>/<name>-<key>/`` where ``key`` hashes the entry's
spec (profile settings, hyperparameters, seed), the library version and the source of the
code that computes it (:func:`fmnist_lib.pipeline.registry.stage_source`). A changed config
or changed computing code therefore never reads a stale entry. Entries are written to a
temporary folder and renamed into place, so an interrupted run leaves no half entry.

Values are stored by type, never pickled: DataFrames as CSV, arrays as ``.npy``
(``allow_pickle=False``), state dicts as ``.pt`` (loaded with ``weights_only=True``), and
everything else as JSON inside the manifest. The manifest records each file's size and
SHA-256 and the SHA-256 of its own content (so the JSON items too); reading verifies all of
them and loads each file with a reader that cannot execute code. An entry that fails any check,
or whose file its reader rejects, is damaged: reported with its folder, moved to ``.damaged/``
and recomputed, never returned. Listing and pruning stale entries live in
:mod:`fmnist_lib.pipeline.store_admin`.
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

# numpy, pandas and torch are imported where values are written or read (store_files), so
# listing and pruning the store (``python -m fmnist_lib store list``) never imports them.
from ..config import STORE_SIZE_ESTIMATE_MB, project_root
from ..errors import StoreError
from .registry import entry_source
from .store_files import (READERS, DamagedEntry, OlderFormat, file_digest, fsync_dir, manifest_digest,
                          read_file, serialise, write_file)

__all__ = ["ResultStore", "DamagedEntry", "OlderFormat", "project_root", "default_store",
           "results_root", "source_hash", "space_note"]

# manifest format: 2 recorded the size and SHA-256 of every file; 3 also the SHA-256 of the
# manifest itself ("digest"), so its JSON items (verdicts, best parameters, timings) are verified
FORMAT = 3
DAMAGED = ".damaged"  # damaged entries are moved here, under the profile's folder
log = logging.getLogger(__name__)


def source_hash(name: str) -> str:
    """Hash of the code that computes entries called ``name`` (see :mod:`fmnist_lib.pipeline.registry`)."""
    return entry_source(name)


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
                stored = serialise(v)
                if stored is None:
                    manifest["json"][k] = v
                    continue
                fname = f"{k}{stored[0]}"
                write_file(tmp / fname, stored[1])
                manifest["files"][k] = fname
                manifest["checksums"][fname] = {"size": len(stored[1]),
                                                "sha256": hashlib.sha256(stored[1]).hexdigest()}
            body = json.loads(json.dumps(manifest, default=str))  # what a reader will parse
            body["digest"] = manifest_digest(body)
            write_file(tmp / "manifest.json", json.dumps(body, indent=1).encode())
            self._move_into_place(tmp, final)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StoreError(str(self.root), f"no space left on device while writing the result "
                                 f"{final.name} ({space_note(self.root)})", FULL_FIX) from err
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
            return
        fsync_dir(final.parent)  # the rename itself survives a power cut

    def verify(self, folder: Path) -> dict[str, Any]:
        """The entry's manifest, after checking its own SHA-256 and every file's size and SHA-256.

        Raises
        ------
        DamagedEntry
            Saying which file is missing, truncated or changed, or what is wrong with the
            manifest (:class:`OlderFormat` for one written by an older library).
        """
        try:
            manifest = json.loads((folder / "manifest.json").read_bytes())
        except FileNotFoundError:
            raise DamagedEntry("no manifest.json: a partial entry") from None
        except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
            raise DamagedEntry(f"manifest.json is not valid JSON ({str(err)[:120]})") from None
        if not isinstance(manifest, dict):
            raise DamagedEntry("manifest.json is not a JSON object")
        if manifest.get("format") != FORMAT:
            raise OlderFormat(f"manifest format {manifest.get('format', 1)}, this library reads "
                              f"{FORMAT} (written by an older library)")
        if not (all(isinstance(manifest.get(k), dict) for k in ("files", "json", "checksums"))
                and isinstance(manifest.get("digest"), str)):
            raise DamagedEntry("manifest.json is incomplete")
        body = {k: v for k, v in manifest.items() if k != "digest"}
        if manifest_digest(body) != manifest["digest"]:
            raise DamagedEntry("manifest.json does not match its SHA-256 (its JSON items or file list changed)")
        for fname in manifest["files"].values():
            if not (isinstance(fname, str) and fname == Path(fname).name and fname.endswith(READERS)):
                raise DamagedEntry(f"manifest.json names a file of unknown type or place: {fname!r}")
            expected, path = manifest["checksums"].get(fname), folder / fname
            if not (isinstance(expected, dict) and isinstance(expected.get("size"), int)
                    and isinstance(expected.get("sha256"), str)):
                raise DamagedEntry(f"manifest.json has no size and SHA-256 for {fname}")
            if not path.is_file():
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
                out[k] = read_file(folder / fname)
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
        return self.save_and_load(name, spec, items)

    def save_and_load(self, name: str, spec: dict[str, Any], items: dict[str, Any]) -> dict[str, Any]:
        """:meth:`save`, then the entry as :meth:`load` reads it back (verified).

        Raises
        ------
        StoreError
            When it cannot be written, or cannot be read back intact.
        """
        folder = self.save(name, spec, items)
        found = self.load(name, spec)
        if found is None:
            raise StoreError(str(folder), "was written but could not be read back intact",
                             "Check the disk (free space, errors) or set FMNIST_RESULTS to another folder.")
        return found


# ------------------------------------------------------------ free space

FULL_FIX = ("Free space on that disk, or point FMNIST_RESULTS at a folder on a disk with more room "
            "(it is created when missing).")


def _mb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def space_note(folder: Path) -> str:
    """``"<free> free there; a <profile> run stores about <estimate>"`` for a profile's folder."""
    try:
        note = f"{_mb(shutil.disk_usage(folder).free)} free there"
    except OSError:
        note = "free space unknown"
    estimate = STORE_SIZE_ESTIMATE_MB.get(folder.name)
    return note + (f"; a {folder.name} run stores about {estimate} MB" if estimate else "")


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
