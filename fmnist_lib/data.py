"""The real Fashion-MNIST: find, parse and validate the official IDX files, split, batch.

Every array is normalised once, as a float32 tensor, with the mean and standard deviation
of the 60,000 official training images. Loaders index resident tensors; they never
collate single items.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split

from .config import project_root
from .errors import DataError

__all__ = [
    "CLASSES", "DataError", "find_data_dir", "load_fashion_mnist", "normalisation_stats",
    "get_arrays", "get_data_loaders", "TensorLoader", "stratified_subset", "split_indices",
]

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
# name -> (IDX magic number, item count, sha256 of the uncompressed file)
FILES = {
    "train-images-idx3-ubyte": (2051, 60000, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte": (2049, 60000, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte": (2051, 10000, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte": (2049, 10000, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
HOW_TO_GET = (
    "Get the data set with `apt-get install dataset-fashion-mnist` (Debian, as root), or put the "
    "four official *-ubyte.gz files in ./data/fashion-mnist, or point FMNIST_DATA at their "
    "folder, or allow a download through torchvision with FMNIST_DOWNLOAD=1 (or download=True)."
)


def candidate_dirs() -> list[Path]:
    """Folders searched for the four files, in order: only ``$FMNIST_DATA`` when it is set."""
    if os.environ.get("FMNIST_DATA"):  # an explicit choice: never fall back to another copy
        root = Path(os.environ["FMNIST_DATA"])
        dirs = [root, root / "FashionMNIST" / "raw"]
    else:
        local = project_root() / "data"  # ./data of the project, also from a chapter's folder
        dirs = [local / "fashion-mnist", DEBIAN_DIR, local / "FashionMNIST" / "raw"]
    return [d.expanduser().absolute() for d in dirs]


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_data_dir(download: bool | None = None) -> Path:
    """Return the first folder holding all four official files.

    Parameters
    ----------
    download : bool or None
        Download through ``torchvision.datasets.FashionMNIST`` into ``./data`` when no
        folder has the files. ``None`` reads ``FMNIST_DOWNLOAD`` (``1`` allows it).

    Raises
    ------
    DataError
        Naming ``FMNIST_DATA`` when it is set, else listing every folder searched, and the fix.
    """
    searched = candidate_dirs()
    for folder in searched:
        if all(_file_in(folder, name) for name in FILES):
            return folder
    if download is None:
        download = os.environ.get("FMNIST_DOWNLOAD", "") in ("1", "true", "yes")
    explicit = os.environ.get("FMNIST_DATA")
    if download:
        from torchvision.datasets import FashionMNIST

        root = Path(explicit).expanduser().absolute() if explicit else project_root() / "data"
        FashionMNIST(root=str(root), train=True, download=True)
        FashionMNIST(root=str(root), train=False, download=True)
        return root / "FashionMNIST" / "raw"
    why = [f"{folder}: " + ("no such folder" if not folder.is_dir() else
           "missing " + ", ".join(n for n in FILES if not _file_in(folder, n))) for folder in searched]
    if explicit:
        cause = "no such folder" if not searched[0].is_dir() else "; ".join(why)
        raise DataError(f"FMNIST_DATA={explicit}", cause,
                        "Point FMNIST_DATA at the folder holding the four official *-ubyte(.gz) "
                        "files, or unset it to search ./data/fashion-mnist and " f"{DEBIAN_DIR}.")
    raise DataError("Fashion-MNIST", "not found; searched " + "; ".join(why), HOW_TO_GET)


def read_idx(path: Path, name: str) -> np.ndarray:
    """Parse and validate one official IDX file (gzipped or not) into a uint8 array."""
    magic, count, sha = FILES[name]
    fix = f"Replace the file with an intact official copy. {HOW_TO_GET}"
    try:
        if path.suffix == ".gz":
            with gzip.open(path) as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(str(path), f"cannot be read or decompressed ({err})", fix) from err
    header_len = 16 if magic == 2051 else 8
    if len(raw) < header_len:
        raise DataError(str(path), f"only {len(raw)} bytes, shorter than an IDX header", fix)
    header = np.frombuffer(raw[:header_len], dtype=">u4")
    if header[0] != magic:
        raise DataError(str(path), f"magic number {header[0]}, expected {magic} "
                        f"({'images' if magic == 2051 else 'labels'} file)", fix)
    if header[1] != count:
        what = "labels, one per image" if magic == 2049 else "images, one per label"
        raise DataError(str(path), f"holds {header[1]:,} items, expected {count:,} ({what})", fix)
    if magic == 2051 and tuple(header[2:]) != (28, 28):
        raise DataError(str(path), f"images are {header[2]}x{header[3]}, expected 28x28", fix)
    expected_len = header_len + count * (784 if magic == 2051 else 1)
    if len(raw) != expected_len:
        raise DataError(str(path), f"{len(raw)} bytes, expected {expected_len} (truncated?)", fix)
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_len)
    if magic == 2049 and data.max() > 9:
        bad = int(np.argmax(data > 9))
        raise DataError(str(path), f"label {data[bad]} at index {bad}; labels must be 0..9", fix)
    if hashlib.sha256(raw).hexdigest() != sha:
        raise DataError(str(path), f"checksum mismatch: the content is not the official "
                        f"Fashion-MNIST (sha256 {hashlib.sha256(raw).hexdigest()[:12]}..., "
                        f"expected {sha[:12]}...)", fix)
    return data.reshape(count, 28, 28).copy() if magic == 2051 else data.copy()


@functools.lru_cache(maxsize=2)
def _load_dir(folder: Path) -> dict[str, tuple]:
    # every file is validated before anything is cached: an error leaves no partial state
    arrays = {name: read_idx(_file_in(folder, name), name) for name in FILES}
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        # counts are pinned per file, so images and labels always pair up here
        X, y = arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"].astype(np.int64)
        out[split] = (X, y)
    # exact moments from the 256-bin histogram: no (60000, 28, 28) float64 temporary
    counts = torch.from_numpy(out["train"][0]).reshape(-1).bincount(minlength=256).double()
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    mean = (counts * levels).sum() / counts.sum()
    out["stats"] = (float(mean), float(((counts * (levels - mean) ** 2).sum() / counts.sum()).sqrt()))
    for X, y in (out["train"], out["test"]):
        X.flags.writeable = y.flags.writeable = False  # shared by every caller: read-only
    return out


def load_fashion_mnist(download: bool | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The validated official splits as read-only uint8 images and int64 labels.

    Returns
    -------
    dict
        ``{"train": (X (60000, 28, 28) uint8, y (60000,) int64), "test": (X (10000, 28, 28), y)}``
    """
    data = _load_dir(find_data_dir(download))
    return {"train": data["train"], "test": data["test"]}


def normalisation_stats(download: bool | None = None) -> tuple[float, float]:
    """Mean and standard deviation of the 60,000 training images scaled to [0, 1]."""
    return _load_dir(find_data_dir(download))["stats"]


def _normalise(X: np.ndarray, mean: float, std: float, size: int) -> np.ndarray:
    x = torch.from_numpy(X.astype(np.float32)).div_(255.0).sub_(mean).div_(std).unsqueeze(1)  # (N, 1, 28, 28)
    if size != 28:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.numpy()


def stratified_subset(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a stratified random subset of ``n`` labels from ``y``."""
    if not 10 <= n <= len(y):
        raise ValueError(f"subset must be between 10 and {len(y)}, got {n}.")
    if n == len(y):
        return np.arange(len(y))
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


def split_indices(y: np.ndarray, *, val_fraction: float = 0.1, seed: int = 0,
                  subset: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, disjoint, stratified ``(train, val)`` row indices into ``y``, as ``get_arrays`` uses.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Labels of the official training file.
    val_fraction, seed, subset
        As in :func:`get_arrays`.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    idx = stratified_subset(y, subset, seed) if subset is not None else np.arange(len(y))
    tr, va = train_test_split(idx, test_size=val_fraction, stratify=y[idx], random_state=seed)
    return np.sort(tr), np.sort(va)


def get_arrays(*, val_fraction: float = 0.1, seed: int = 0, subset: int | None = None,
               size: int = 28, download: bool | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Normalised, seeded, stratified splits as numpy arrays (for skorch and scikit-learn).

    Parameters
    ----------
    val_fraction : float
        Share of the training images held out for validation, in (0, 1).
    seed : int
        Controls the subset and the split.
    subset : int or None
        Use a stratified subset of this many of the 60,000 training images.
    size : int
        28, or 32 for LeNet-5's original input size (bilinear resize).

    Returns
    -------
    dict
        ``{"train" | "val" | "test": (X float32 (N, 1, size, size), y int64 (N,))}``.
        The test split is always the full official 10,000 images.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    if size not in (28, 32):
        raise ValueError(f"size must be 28 or 32, got {size}.")
    data = load_fashion_mnist(download)
    mean, std = normalisation_stats(download)
    X, y = data["train"]
    tr, va = split_indices(y, val_fraction=val_fraction, seed=seed, subset=subset)
    Xt, yt = data["test"]
    return {"train": (_normalise(X[tr], mean, std, size), y[tr]),
            "val": (_normalise(X[va], mean, std, size), y[va]),
            "test": (_normalise(Xt, mean, std, size), yt.copy())}


class TensorLoader:
    """Batches sliced from resident tensors; reshuffles each epoch from its own generator.

    Parameters
    ----------
    X : Tensor, shape (N, 1, H, W)
    y : Tensor, shape (N,), or None
        ``None`` yields ``(x, None)`` batches (prediction).
    batch_size : int
    shuffle : bool
        Draw a new permutation at every ``iter()``, reproducibly from ``seed``.
    seed : int
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor | None, batch_size: int,
                 shuffle: bool = False, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if y is not None and len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}.")
        self.X, self.y, self.batch_size, self.shuffle = X, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return (len(self.X) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n, bs = len(self.X), self.batch_size
        if self.shuffle:
            perm = torch.randperm(n, generator=self.generator).to(self.X.device)
            X, y = self.X[perm], (None if self.y is None else self.y[perm])  # one gather per epoch
        else:
            X, y = self.X, self.y
        for start in range(0, n, bs):
            yield X[start:start + bs], (None if y is None else y[start:start + bs])


def get_data_loaders(batch_size: int, *, val_fraction: float = 0.1, seed: int = 0,
                     subset: int | None = None, device: str | torch.device | None = None,
                     size: int = 28) -> tuple[TensorLoader, TensorLoader, TensorLoader]:
    """``(train, val, test)`` loaders yielding ``x`` float32 (B, 1, 28, 28) and ``y`` int64 (B,).

    The training loader reshuffles every epoch, reproducibly from ``seed``; the tensors live
    on ``device`` (CUDA when available, if ``None``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    arrays = get_arrays(val_fraction=val_fraction, seed=seed, subset=subset, size=size)
    loaders = []
    for split in ("train", "val", "test"):
        X, y = (torch.from_numpy(a).to(device) for a in arrays[split])
        loaders.append(TensorLoader(X, y, batch_size, shuffle=split == "train", seed=seed))
    return tuple(loaders)
