"""The explorer's page data and HTML block (fmnist_lib.explorer_view), on synthetic results."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import confusion_matrix

from fmnist_lib.paper import explorer_view
from fmnist_lib.saliency import explorer

ALPINE_SHA256 = "b4036e9e9ac22fa6f6ae1ba292e015e1f3e9c85d0d79e73e4c8eb9bb139b522e"


def decode(uri: str) -> np.ndarray:
    head = "data:image/png;base64,"
    assert uri.startswith(head)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri[len(head):]))))


def test_confusion_difference_equals_sklearn():
    rng = np.random.default_rng(0)
    y, a, b = (rng.integers(0, 10, 500) for _ in range(3))
    ref = confusion_matrix(y, b, labels=range(10)) - confusion_matrix(y, a, labels=range(10))
    assert np.array_equal(explorer_view.confusion_difference(y, a, b), ref)
    with pytest.raises(ValueError, match="one shape"):
        explorer_view.confusion_difference(y, a[:3], b)


def test_png_round_trip():
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    assert np.array_equal(decode(explorer_view.png_data_uri(pixels)), pixels)
    with pytest.raises(ValueError, match="uint8"):
        explorer_view.png_data_uri(pixels.astype(float))


@pytest.fixture
def synthetic():
    """Results shaped as explorer.explorer_data returns them: 300 images, 2 seeds, 12 chosen."""
    rng = np.random.default_rng(0)
    n, seeds = 300, [3, 7]
    y = np.arange(n) % 10
    proba = {}
    for name in ("simple", "lenet"):
        p = rng.random((len(seeds), n, 10))
        p[:, np.arange(n), y] += 1.5
        proba[name] = p / p.sum(2, keepdims=True)
    preds = {k: explorer.predictions(list(v)) for k, v in proba.items()}
    idx = explorer.choose_images(y, preds["simple"][-1], preds["lenet"][-1], 12)
    classes = explorer.map_classes(y[idx], {k: v[:, idx] for k, v in preds.items()})
    pi = np.repeat(np.arange(len(idx)), [len(c) for c in classes])
    pc = np.asarray([c for cs in classes for c in cs])
    maps = {f"maps_{m}": rng.random((2, len(seeds), len(pi), 28, 28)).astype(np.float16)
            for m in ("gradcam", "hirescam")}
    data = {"indices": idx, "pair_image": pi, "pair_class": pc, **maps, "y": y, "seeds": seeds,
            "names": ["simple", "lenet"], "proba": proba}
    return data, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), preds


def test_payload_carries_the_results(synthetic):
    data, raw, preds = synthetic
    page = explorer_view.payload(data, raw)
    json.dumps(page)  # JSON-able
    for name in ("simple", "lenet"):  # one digit per image, a row per seed and the ensemble
        assert np.array_equal([[int(c) for c in s] for s in page["pred"][name]], preds[name])
    assert np.array_equal(np.array([int(c) for c in page["y"]]), data["y"])
    for r in range(3):  # seeds, then the ensemble
        assert np.array_equal(page["diff"][r], explorer_view.confusion_difference(
            data["y"], preds["simple"][r], preds["lenet"][r]))
    im = page["images"][4]
    i = int(data["indices"][4])
    assert im["index"] == i and np.array_equal(decode(im["png"]), raw[i])
    expected = np.vstack([data["proba"]["lenet"][:, i], data["proba"]["lenet"][:, i].mean(0)])
    assert np.abs(np.asarray(im["proba"]["lenet"]) / 1e4 - expected).max() <= 0.5e-4
    q = np.flatnonzero(data["pair_image"] == 4)
    assert im["classes"] == data["pair_class"][q].tolist()
    sheet = decode(im["maps"]).reshape(2, 2, 2, len(q), 28, 28) / 255.0  # method, model, seed, class
    ref = np.stack([data[f"maps_{m}"][:, :, q] for m in ("gradcam", "hirescam")]).astype(np.float32)
    assert np.abs(sheet - ref).max() <= 0.5 / 255 + 1e-6
    assert len(page["lut"]["heat"]) == 256 and all(re.fullmatch("#[0-9a-f]{6}", c) for c in page["lut"]["diff"])


def test_payload_bad_images(synthetic):
    data, raw, _ = synthetic
    with pytest.raises(ValueError, match="raw_images"):
        explorer_view.payload(data, raw[:10])


def test_html_block_is_self_contained(synthetic):
    data, raw, _ = synthetic
    page = explorer_view.payload(data, raw)
    page["classes"][0] = "a </script> b"  # a closing tag in the data must not end its <script>
    block = explorer_view.html_block(page)
    assert block.startswith("```{=html}\n") and block.endswith("\n```")
    data_script = re.search(r'<script type="application/json" id="fmnist-explorer-data">(.*?)</script>',
                            block, re.S).group(1)
    assert json.loads(data_script)["classes"][0] == "a </script> b"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", block), "a resource from the network"
    assert block.count("x-data=\"fmnistExplorer\"") == 1


def test_vendored_alpine_is_the_npm_release():
    path = explorer_view.ASSETS / explorer_view.ALPINE
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ALPINE_SHA256
