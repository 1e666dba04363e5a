"""How an entry's values become files and come back: one writer and one safe reader per type.

DataFrames are CSV, arrays ``.npy`` (``allow_pickle=False``), state dicts ``.pt`` (read with
``weights_only=True``); nothing is ever unpickled. Each file is written whole and flushed to
the disk (so a full disk fails at the write, with its ``errno``), and a file that its reader
rejects, or that holds another type than its name says, is :class:`DamagedEntry`.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

__all__ = ["READERS", "DamagedEntry", "OlderFormat", "file_digest", "manifest_digest", "write_file",
           "fsync_dir", "serialise", "read_file", "is_state_dict"]

READERS = (".csv", ".npy", ".pt")  # the only file types an entry may name


def file_digest(path: Path) -> dict[str, Any]:
    """``{"size": bytes, "sha256": hex}`` of one file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"size": path.stat().st_size, "sha256": h.hexdigest()}


class DamagedEntry(Exception):
    """An entry whose manifest or files do not match what was written (internal)."""


class OlderFormat(DamagedEntry):
    """An entry written by an older library, with a manifest format this one does not verify."""


def manifest_digest(body: dict[str, Any]) -> str:
    """SHA-256 of a manifest without its ``digest``, over canonical JSON (sorted keys)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` and flush it to the disk, so a full disk fails here, with its ``errno``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def serialise(value: Any) -> tuple[str, bytes] | None:
    """``(suffix, bytes)`` of a value stored as a file, or ``None`` for a JSON item."""
    import numpy as np  # here, not at import: `store list` loads none of numpy, pandas, torch
    import pandas as pd
    import torch

    buf = io.BytesIO()
    if isinstance(value, pd.DataFrame):
        return ".csv", value.to_csv(index=False).encode()
    if isinstance(value, np.ndarray):
        np.save(buf, value, allow_pickle=False)
        return ".npy", buf.getvalue()
    if is_state_dict(value):
        torch.save({n: t.detach().cpu().contiguous() for n, t in value.items()}, buf)
        return ".pt", buf.getvalue()
    json.dumps(value)  # raises TypeError now, not at load time
    return None


def read_file(path: Path) -> Any:
    """One stored file, by its reader; none of them unpickles (weights_only, allow_pickle=False).

    Raises
    ------
    DamagedEntry
        When the reader rejects the file, or it holds another type than its name says.
    OSError
        When it cannot be read at all (permissions, a disk error): not the entry's fault.
    """
    import numpy as np
    import pandas as pd
    import torch

    try:
        if path.suffix == ".csv":
            return pd.read_csv(path)
        if path.suffix == ".npy":
            value = np.load(path, allow_pickle=False)
            if not isinstance(value, np.ndarray):
                raise DamagedEntry(f"{path.name} is not one array ({type(value).__name__})")
            return value
        value = torch.load(path, map_location="cpu", weights_only=True)
        if not is_state_dict(value):
            raise DamagedEntry(f"{path.name} is not a state dict of tensors ({type(value).__name__})")
        return value
    except (OSError, DamagedEntry, MemoryError):
        raise
    except Exception as err:  # noqa: BLE001 - whatever the reader refuses, the file is damaged
        if isinstance(err, pickle.UnpicklingError):  # torch's own text suggests loading it unsafely
            detail = "it holds objects other than tensors; nothing of it was loaded"
        else:
            detail = re.sub(r"\x1b\[[0-9;]*m", "", (str(err).strip().splitlines() or [""])[0])[:200]
        raise DamagedEntry(f"{path.name} is refused by its reader ({type(err).__name__}: {detail})") from None


def is_state_dict(value: Any) -> bool:
    import torch

    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk, where the platform allows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not supported here (some platforms and file systems): the data is synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
