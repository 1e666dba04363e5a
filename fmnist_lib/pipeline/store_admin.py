"""Listing and pruning the result store (``python -m fmnist_lib store list|prune``).

Every folder under ``results/<profile>/`` gets one status:

- ``current``: intact, and its key is the one this library computes for its name and spec;
- ``stale``: intact, but made by other library sources or version (or an older manifest
  format: 1 without checksums, 2 without the manifest's own SHA-256), so no run of this
  library will read it again;
- ``damaged``: a file is missing, truncated or changed, the manifest is unreadable, changed
  or names a file type it does not know;
- ``set aside``: a damaged entry already moved to ``.damaged/`` by a run;
- ``partial``: the temporary folder of a write whose process is gone (``in progress`` while
  it runs).

- ``unreadable``: cannot be read (permissions, a disk error); never pruned.

Pruning removes everything but ``current``, ``in progress`` and ``unreadable``.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..config import STORE_SIZE_ESTIMATE_MB
from ..errors import StoreError
from .store import DAMAGED, FORMAT, FULL_FIX, DamagedEntry, OlderFormat, ResultStore, _mb, source_hash

__all__ = ["Entry", "scan", "prune", "format_entries", "space_warning"]

KEEP = ("current", "in progress", "unreadable")


@dataclass(frozen=True)
class Entry:
    """One folder of the store and what it is."""

    folder: Path
    status: str
    reason: str
    size: int  # bytes, all files of the folder


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _status(store: ResultStore, folder: Path) -> tuple[str, str]:
    if folder.name.startswith(".") and ".tmp-" in folder.name:
        pid = folder.name.rsplit(".tmp-", 1)[1]
        alive = pid.isdigit() and _pid_alive(int(pid))
        return ("in progress", f"being written by process {pid}") if alive else \
            ("partial", "left by an interrupted write")
    try:
        manifest = store.verify(folder)
    except OSError as err:  # permissions or a disk error: say so, never prune it
        return "unreadable", str(err)
    except OlderFormat as err:
        return "stale", str(err)
    except DamagedEntry as err:
        return "damaged", str(err)
    if store.path(manifest["name"], manifest["spec"]) == folder:
        return "current", f"written {manifest.get('written', '?')}"
    from .. import __version__

    if manifest.get("version") != __version__:
        return "stale", f"made by library {manifest.get('version')} (now {__version__})"
    return "stale", f"made by other library sources ({manifest.get('source')}, now {source_hash(manifest['name'])})"


def scan(store: ResultStore) -> list[Entry]:
    """Every folder under ``store.root`` with its status, in name order (empty if no folder)."""
    if not store.root.is_dir():
        return []
    entries = []
    for folder in sorted(p for p in store.root.iterdir() if p.is_dir()):
        if folder.name == DAMAGED:
            entries += [Entry(d, "set aside", "damaged, moved aside by a run", _size(d))
                        for d in sorted(folder.iterdir())]
            continue
        status, reason = _status(store, folder)
        entries.append(Entry(folder, status, reason, _size(folder)))
    return entries


def prune(store: ResultStore, dry_run: bool = False) -> list[Entry]:
    """Remove every entry that is not current (or being written); returns what was (or would be) removed."""
    doomed = [e for e in scan(store) if e.status not in KEEP]
    if not dry_run:
        for entry in doomed:
            try:
                shutil.rmtree(entry.folder)
            except FileNotFoundError:
                pass  # removed meanwhile (another prune, or a run set it aside)
            except OSError as err:
                raise StoreError(str(entry.folder), f"cannot be removed ({err.strerror or err})",
                                 "Remove it by hand, or fix the folder's permissions.") from err
        damaged = store.root / DAMAGED
        if damaged.is_dir() and not any(damaged.iterdir()):
            damaged.rmdir()
    return doomed


def format_entries(entries: list[Entry], root: Path) -> str:
    """A plain table: status, size, entry folder (relative to ``root``), reason."""
    if not entries:
        return f"no entries in {root}"
    rows = [f"{e.status:<11} {e.size / 1e6:8.2f} MB  {e.folder.relative_to(root)}  ({e.reason})"
            for e in entries]
    counts = {s: sum(e.status == s for e in entries) for s in dict.fromkeys(e.status for e in entries)}
    return "\n".join(rows + [", ".join(f"{n} {s}" for s, n in counts.items()) + f" in {root}"])


# ------------------------------------------------------------ free space

def _current_bytes(root: Path) -> int:
    """Bytes of the entries under ``root`` whose key is current (no file is hashed)."""
    store, total = ResultStore(root), 0
    for folder in root.iterdir() if root.is_dir() else ():
        try:
            manifest = json.loads((folder / "manifest.json").read_bytes())
            if manifest.get("format") == FORMAT and store.path(manifest["name"], manifest["spec"]) == folder:
                total += sum(p.stat().st_size for p in folder.iterdir())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not an intact current entry: it will be (re)computed
    return total


def space_warning(root: Path) -> str | None:
    """A warning when the disk of a profile's folder clearly lacks the room its run still needs.

    Still needed: the profile's estimated store size (``config.STORE_SIZE_ESTIMATE_MB``, an
    estimate) less what is already stored under current keys; ``None`` when there is room
    (or no estimate for the folder's name).
    """
    estimate = STORE_SIZE_ESTIMATE_MB.get(root.name)
    if not estimate:
        return None
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return None
    needed = estimate * 1e6 - _current_bytes(root)
    if free >= needed:
        return None
    return (f"{root}: only {_mb(free)} free on its disk; the {root.name} profile still needs about "
            f"{_mb(needed)} (an estimate). {FULL_FIX}")
