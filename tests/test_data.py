"""fmnist_lib.data: finding, validating, splitting and batching the real Fashion-MNIST."""
import functools
import gzip
import hashlib

import numpy as np
import pytest
import torch

from fmnist_lib import data
from fmnist_lib.data import (CLASSES, DataError, TensorLoader, get_arrays, get_data_loaders,
                             load_fashion_mnist, normalisation_stats, split_indices)


# ---------------------------------------------------------------- synthetic, no files


def test_tensor_loader_batches_cover_every_row_once():
    X, y = torch.arange(10.0).reshape(10, 1, 1, 1), torch.arange(10)
    loader = TensorLoader(X, y, batch_size=4, shuffle=True, seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert all(torch.equal(bx.flatten(), by.float()) for bx, by in batches)  # rows stay paired


def test_tensor_loader_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(torch.zeros(4, 1, 28, 28), torch.zeros(4), batch_size=0)
    with pytest.raises(ValueError, match="4 rows but y has 3"):
        TensorLoader(torch.zeros(4, 1, 28, 28), torch.zeros(3), batch_size=2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(val_fraction=0.0), "val_fraction"), (dict(val_fraction=1.0), "val_fraction"),
    (dict(size=30), "size must be 28 or 32"),
])
def test_get_arrays_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_arrays(**kwargs)


# ---------------------------------------------------------------- the real files


@pytest.fixture(scope="module")
def official():
    return load_fashion_mnist()


@pytest.fixture(scope="module")
def arrays():
    return get_arrays()


@pytest.fixture(scope="module")
def loaders():
    return get_data_loaders(64, subset=6000, device="cpu")


@pytest.mark.realdata
def test_official_files_have_balanced_classes(official):
    (X, y), (Xt, yt) = official["train"], official["test"]
    assert X.shape == (60000, 28, 28) and Xt.shape == (10000, 28, 28) and X.dtype == np.uint8
    assert np.bincount(y, minlength=10).tolist() == [6000] * 10
    assert np.bincount(yt, minlength=10).tolist() == [1000] * 10
    assert len(CLASSES) == 10


@pytest.mark.realdata
def test_split_sizes_and_stratification(arrays):
    sizes = {split: len(arrays[split][1]) for split in ("train", "val", "test")}
    assert sizes == {"train": 54000, "val": 6000, "test": 10000}
    for split, per_class in (("train", 5400), ("val", 600), ("test", 1000)):
        X, y = arrays[split]
        assert X.shape == (len(y), 1, 28, 28) and X.dtype == np.float32 and y.dtype == np.int64
        assert np.bincount(y, minlength=10).tolist() == [per_class] * 10, split


@pytest.mark.realdata
def test_train_and_val_are_disjoint_and_match_the_indices(official, arrays):
    X, y = official["train"]
    tr, va = split_indices(y)
    assert len(np.intersect1d(tr, va)) == 0
    assert np.array_equal(np.union1d(tr, va), np.arange(60000))
    mean, std = normalisation_stats()
    for split, idx in (("train", tr), ("val", va)):
        Xs, ys = arrays[split]
        assert np.array_equal(ys, y[idx])
        # undo the normalisation: the rows are exactly the official images at those indices
        pixels = np.rint((Xs[:, 0] * np.float32(std) + np.float32(mean)) * 255).astype(np.uint8)
        assert np.array_equal(pixels, X[idx])


@pytest.mark.realdata
def test_normalisation(arrays):
    mean, std = normalisation_stats()
    assert mean == pytest.approx(0.2860, abs=1e-3) and std == pytest.approx(0.3530, abs=1e-3)
    sums = {}
    for split in ("train", "val"):
        x = arrays[split][0].ravel()
        # float64 accumulation without a float64 copy
        sums[split] = (x.size, x.sum(dtype=np.float64), np.einsum("i,i->", x, x, dtype=np.float64))
    n, s1, s2 = sums["train"]
    assert abs(s1 / n) < 0.01 and abs(np.sqrt(s2 / n - (s1 / n) ** 2) - 1) < 0.01
    # over all 60,000 training images the moments are exact
    n, s1, s2 = (a + b for a, b in zip(sums["train"], sums["val"]))
    assert abs(s1 / n) < 1e-5 and abs(np.sqrt(s2 / n - (s1 / n) ** 2) - 1) < 1e-5


@pytest.mark.realdata
def test_subset_is_stratified():
    sub = get_arrays(subset=1000)
    assert np.bincount(sub["train"][1], minlength=10).tolist() == [90] * 10
    assert np.bincount(sub["val"][1], minlength=10).tolist() == [10] * 10
    assert len(sub["test"][1]) == 10000  # the test split is never subsampled
    with pytest.raises(ValueError, match="subset must be between 10 and 60000"):
        get_arrays(subset=5)


@pytest.mark.realdata
def test_get_arrays_mutates_nothing_and_is_deterministic(official, arrays):
    digest = hashlib.sha256(official["train"][0].tobytes() + official["train"][1].tobytes()).hexdigest()
    again = get_arrays()
    assert hashlib.sha256(official["train"][0].tobytes()
                          + official["train"][1].tobytes()).hexdigest() == digest
    for split in ("train", "val", "test"):
        assert all(np.array_equal(a, b) for a, b in zip(arrays[split], again[split]))
    with pytest.raises(ValueError, match="read-only"):
        official["train"][0][0, 0, 0] = 1  # the shared cache cannot be written into


@pytest.mark.realdata
def test_size_32(arrays):
    big = get_arrays(size=32)
    for split in ("train", "val", "test"):
        X, y = big[split]
        assert X.shape == (len(arrays[split][1]), 1, 32, 32) and X.dtype == np.float32
        assert np.array_equal(y, arrays[split][1]) and np.isfinite(X).all()
    assert abs(big["train"][0].mean()) < 0.05


@pytest.mark.realdata
def test_loaders_yield_typed_batches(loaders):
    train, val, test = loaders
    x, y = next(iter(train))
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64
    assert len(train) == -(-5400 // 64) and len(test) == -(-10000 // 64)
    # validation and test keep their order
    assert torch.equal(next(iter(val))[0], val.X[:64]) and torch.equal(next(iter(test))[1], test.y[:64])


@pytest.mark.realdata
def test_same_seed_same_batches_other_seed_other_order():
    first, same, other = (get_data_loaders(64, subset=6000, seed=seed, device="cpu")[0]
                          for seed in (0, 0, 1))
    batches = [list(zip(loader, range(3))) for loader in (first, same, other)]
    for ((x0, y0), _), ((x1, y1), _) in zip(batches[0], batches[1]):
        assert torch.equal(x0, x1) and torch.equal(y0, y1)
    assert not torch.equal(batches[0][0][0][1], batches[2][0][0][1])


@pytest.mark.realdata
def test_train_reshuffles_between_epochs(loaders):
    train = loaders[0]
    epoch1, epoch2 = (torch.cat([y for _, y in train]) for _ in range(2))
    assert not torch.equal(epoch1, epoch2)
    assert torch.equal(epoch1.sort().values, epoch2.sort().values)  # same rows, new order
    assert len(epoch1) == len(train.y)


# ---------------------------------------------------------------- damaged or missing files


@functools.lru_cache(maxsize=None)
def _official_bytes(name: str) -> bytes:
    with gzip.open(data.DEBIAN_DIR / f"{name}.gz") as f:
        return f.read()


def _with_byte(raw: bytes, offset: int, value: int) -> bytes:
    out = bytearray(raw)
    out[offset] = value
    return bytes(out)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A folder named by FMNIST_DATA: the official files, some replaced by given bytes."""
    folder = tmp_path / "fmnist"
    folder.mkdir()
    monkeypatch.setenv("FMNIST_DATA", str(folder))
    monkeypatch.delenv("FMNIST_DOWNLOAD", raising=False)
    monkeypatch.chdir(tmp_path)

    def make(replaced: dict[str, bytes]) -> None:
        for name in data.FILES:
            if name in replaced:
                (folder / name).write_bytes(replaced[name])
            elif f"{name}.gz" not in replaced:
                (folder / f"{name}.gz").symlink_to(data.DEBIAN_DIR / f"{name}.gz")
        for name, raw in replaced.items():
            if name.endswith(".gz"):
                (folder / name).write_bytes(raw)

    return folder, make


CORRUPTIONS = {
    "truncated gzip": ("t10k-labels-idx1-ubyte.gz",
                       lambda: (data.DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()[:2000],
                       r"cannot be read or decompressed"),
    "wrong magic": ("t10k-labels-idx1-ubyte",
                    lambda: _with_byte(_official_bytes("t10k-labels-idx1-ubyte"), 3, 3),
                    r"magic number 2051, expected 2049"),
    "label 10": ("t10k-labels-idx1-ubyte",
                 lambda: _with_byte(_official_bytes("t10k-labels-idx1-ubyte"), 8 + 5, 10),
                 r"label 10 at index 5; labels must be 0\.\.9"),
    "count mismatch": ("train-labels-idx1-ubyte",
                       lambda: _with_byte(_official_bytes("train-labels-idx1-ubyte")[:-1], 7, 0x5F),
                       r"holds 59,999 items, expected 60,000 \(labels, one per image\)"),
    "checksum": ("t10k-images-idx3-ubyte",
                 lambda: _with_byte(_official_bytes("t10k-images-idx3-ubyte"), 16 + 400,
                                    _official_bytes("t10k-images-idx3-ubyte")[16 + 400] ^ 0xFF),
                 r"checksum mismatch"),
}


@pytest.mark.realdata
@pytest.mark.parametrize("case", CORRUPTIONS, ids=list(CORRUPTIONS))
def test_damaged_file_is_rejected_clearly(case, data_dir):
    folder, make = data_dir
    name, corrupt, match = CORRUPTIONS[case]
    make({name: corrupt()})
    cached = data._load_dir.cache_info().currsize
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(DataError, match=match) as err:
        load_fashion_mnist(download=False)
    message = str(err.value)
    assert str(folder / name) in message  # names the file ...
    assert "intact official copy" in message and "FMNIST_DATA" in message  # ... and the fix
    if case == "label 10":
        assert "checksum" not in message  # the specific check fires before the generic one
    # no partial output: nothing cached, nothing written
    assert data._load_dir.cache_info().currsize == cached
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.realdata
def test_uncompressed_files_are_accepted(data_dir, official):
    folder, make = data_dir
    make({name: _official_bytes(name) for name in data.FILES})
    assert not list(folder.glob("*.gz"))
    try:
        assert data.find_data_dir(download=False) == folder
        loaded = load_fashion_mnist(download=False)
        for split in ("train", "test"):
            assert all(np.array_equal(a, b) for a, b in zip(loaded[split], official[split]))
    finally:
        data._load_dir.cache_clear()  # drop the 55 MB copy; the real folder reloads on demand


class _NoDownload(Exception):
    pass


@pytest.fixture
def download_spy(monkeypatch):
    import torchvision.datasets

    calls = []

    def fake(*args, **kwargs):
        calls.append(kwargs)
        raise _NoDownload

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", fake)
    return calls


def test_missing_data_lists_every_searched_place_and_never_downloads(tmp_path, monkeypatch,
                                                                     download_spy):
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "not-installed")
    monkeypatch.delenv("FMNIST_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    for download, env in ((False, "1"), (None, None), (None, "0")):
        if env is None:
            monkeypatch.delenv("FMNIST_DOWNLOAD", raising=False)
        else:
            monkeypatch.setenv("FMNIST_DOWNLOAD", env)
        with pytest.raises(DataError, match="^Fashion-MNIST: not found; searched") as err:
            load_fashion_mnist(download=download)
        for folder in data.candidate_dirs():
            assert f"{folder}: " in str(err.value)
        assert "apt-get install dataset-fashion-mnist" in str(err.value)
    assert download_spy == [] and not (tmp_path / "data").exists()
    # the spy does see a download when one is asked for, so the check above can fail
    with pytest.raises(_NoDownload):
        load_fashion_mnist(download=True)
    assert download_spy


@pytest.mark.realdata
@pytest.mark.parametrize("case", ["no such folder", "folder without the files"])
def test_wrong_fmnist_data_is_an_error_not_a_fallback(case, tmp_path, monkeypatch, download_spy):
    """An explicit FMNIST_DATA is honoured or refused, even when another copy is installed."""
    assert data.DEBIAN_DIR.is_dir()  # the copy a silent fallback would use
    folder = tmp_path / "typo"
    if case == "folder without the files":
        folder.mkdir()
        (folder / "train-images-idx3-ubyte.gz").symlink_to(data.DEBIAN_DIR / "train-images-idx3-ubyte.gz")
    monkeypatch.setenv("FMNIST_DATA", str(folder))
    monkeypatch.delenv("FMNIST_DOWNLOAD", raising=False)
    with pytest.raises(DataError) as err:
        data.find_data_dir()
    message = str(err.value)
    assert message.startswith(f"FMNIST_DATA={folder}: ")
    if case == "no such folder":
        assert ": no such folder." in message
    else:
        assert "missing train-labels-idx1-ubyte, t10k-images-idx3-ubyte" in message
        assert "missing train-images" not in message
    assert "unset it" in message and data.DEBIAN_DIR not in data.candidate_dirs()
    assert download_spy == []


def test_download_goes_into_an_explicit_fmnist_data(tmp_path, monkeypatch, download_spy):
    monkeypatch.setenv("FMNIST_DATA", str(tmp_path / "new"))
    with pytest.raises(_NoDownload):
        data.find_data_dir(download=True)
    assert download_spy[0]["root"] == str(tmp_path / "new")
