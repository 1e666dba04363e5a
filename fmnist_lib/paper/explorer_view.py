"""The HTML paper's test-set explorer: the page data (``payload``) and the block that shows it.

Presentation only (under paper/, in no store key): it reads :func:`fmnist_lib.pipeline.stages.explorer_data`
and encodes it for the page. The explorer is a small Alpine.js component
(``explorer_assets/``: the template (``.htm``: the tests' scratch copies skip ``*.html``), its
script and style, and Alpine.js itself, vendored), all
inlined into one raw HTML block, so the self-contained HTML needs nothing from a network or a
server. Quarto's OJS is not used: its runtime refuses to start from a ``file://`` address
(quarto-cli issue 6371), its standard library loads ``Inputs`` from a CDN, and ``ojs_define``'s
HTML output makes Quarto add require.js and jQuery from a CDN.

What goes into the page: every test image's true class and each model's prediction per seed
and of the seed ensemble (one digit per image); the difference of the confusion matrices per
seed and of the ensembles; and, for the ``explorer.N_IMAGES`` chosen images, the input (8-bit
grayscale PNG), every seed's and the ensemble's probabilities (in units of 0.01 %) and every
map (the map's values 0..1 as 0..255, all maps of an image in one 8-bit grayscale PNG).
"""
from __future__ import annotations

import base64
import io
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..data import CLASSES
from ..models import DISPLAY_NAMES
from ..saliency.gradcam import METHODS

__all__ = ["SHORT_NAMES", "confusion_difference", "png_data_uri", "payload", "html_block", "show"]

ASSETS = Path(__file__).resolve().parent / "explorer_assets"
ALPINE = "alpine-3.17.5.min.js"
SHORT_NAMES = ("Top", "Trous.", "Pull.", "Dress", "Coat", "Sand.", "Shirt", "Sneak.", "Bag", "Boot")
HEAT_CMAP = "jet"        # as the static Grad-CAM figures (gradcam_plots.overlay's default)
DIFF_CMAP = "RdBu_r"     # as the static difference matrix (evaluation_plots)
METHOD_LABELS = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM"}
TWINS = {"confusion": "fig-confusion", "classes": "fig-gradcam-classes",
         "disagree": "fig-gradcam-disagree", "mistakes": "fig-mistakes", "report": "tbl-classification"}


def confusion_difference(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> np.ndarray:
    """``confusion(y, pred_b) - confusion(y, pred_a)`` in images, ``(10, 10)`` ints, rows the
    true class (LeNet-5 minus the Simple CNN when ``a`` is the Simple CNN)."""
    y, pred_a, pred_b = (np.asarray(v, dtype=np.int64) for v in (y, pred_a, pred_b))
    if not (y.shape == pred_a.shape == pred_b.shape):
        raise ValueError(f"y, pred_a and pred_b must have one shape, got {y.shape}, {pred_a.shape}, "
                         f"{pred_b.shape}.")
    counts = [np.bincount(y * 10 + p, minlength=100).reshape(10, 10) for p in (pred_a, pred_b)]
    return counts[1] - counts[0]


def png_data_uri(pixels: np.ndarray) -> str:
    """A ``(h, w)`` uint8 array as a grayscale PNG ``data:`` URI."""
    from PIL import Image

    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be a 2-d uint8 array, got {pixels.dtype} {pixels.shape}.")
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _lut(name: str, n: int) -> list[str]:
    import matplotlib

    rgb = matplotlib.colormaps[name](np.linspace(0, 1, n))[:, :3]
    return ["#%02x%02x%02x" % tuple(int(round(255 * c)) for c in row) for row in rgb]


def _digits(pred: np.ndarray) -> str:
    return "".join(map(str, np.asarray(pred, dtype=np.int64).tolist()))


def payload(data: dict, raw_images: np.ndarray) -> dict:
    """What the page's script reads: JSON-able, compact.

    Parameters
    ----------
    data : dict
        :func:`fmnist_lib.pipeline.stages.explorer_data`.
    raw_images : ndarray, shape (n_test, 28, 28), uint8
        The test images as stored in the data set (``load_fashion_mnist()["test"][0]``).
    """
    from ..saliency.explorer import predictions

    y, names, seeds = np.asarray(data["y"]), data["names"], data["seeds"]
    if raw_images.shape != (len(y), 28, 28):
        raise ValueError(f"raw_images must have shape ({len(y)}, 28, 28), got {raw_images.shape}.")
    preds = {n: predictions(list(data["proba"][n])) for n in names}  # (n_seeds + 1, n_test)
    rows = len(seeds) + 1
    diff = [confusion_difference(y, preds[names[0]][r], preds[names[1]][r]).tolist() for r in range(rows)]
    idx, pi, pc = data["indices"], data["pair_image"], data["pair_class"]
    images = []
    for k, i in enumerate(idx.tolist()):
        pairs = np.flatnonzero(pi == k)
        probs = {n: np.concatenate([data["proba"][n][:, i], data["proba"][n][:, i].mean(0, keepdims=True)])
                 for n in names}  # (rows, 10): seeds, then the ensemble
        # one PNG sheet per image (deflate works across its maps): 28-row blocks ordered by
        # method, model, seed, class; (n_maps * 28, 28)
        sheet = np.concatenate([data[f"maps_{m}"][:, :, pairs] for m in METHODS]).reshape(-1, 28)
        images.append({"index": i, "png": png_data_uri(raw_images[i]),
                       "proba": {n: np.round(1e4 * probs[n]).astype(int).tolist() for n in names},
                       "classes": pc[pairs].tolist(),
                       "maps": png_data_uri(np.round(255 * sheet.astype(np.float32)).astype(np.uint8))})
    return {"classes": list(CLASSES), "short": list(SHORT_NAMES), "n_test": int(len(y)),
            "models": [{"key": n, "label": DISPLAY_NAMES[n]} for n in names], "seeds": seeds,
            "y": _digits(y), "pred": {n: [_digits(p) for p in preds[n]] for n in names},
            "diff": diff, "images": images,
            "methods": [{"key": m, "label": METHOD_LABELS[m]} for m in METHODS],
            "lut": {"heat": _lut(HEAT_CMAP, 256), "diff": _lut(DIFF_CMAP, 21)}, "twins": TWINS}


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def html_block(page: dict) -> str:
    """The explorer as one raw-HTML Markdown block: style, template, data, script, Alpine.js."""
    text = json.dumps(page, separators=(",", ":")).replace("</", "<\\/")  # never ends the <script>
    return "\n".join([
        "```{=html}",
        # Quarto's documented opt-out for libraries: leave the template's <table>s to the page
        # (it would try to parse them into Pandoc tables and warn)
        "<!--| quarto-html-table-processing: none -->",
        f"<style>{_asset('explorer.css')}</style>",
        _asset("explorer.htm"),
        f'<script type="application/json" id="fmnist-explorer-data">{text}</script>',
        f"<script>{_asset('explorer.js')}</script>",
        f"<script>{_asset(ALPINE)}</script>",
        "```"])


def show(profile=None):
    """The chapter's one call: the explorer of ``profile``'s results, as a Markdown object."""
    from IPython.display import Markdown

    from ..data import load_fashion_mnist
    from ..pipeline.stages import explorer_data

    return Markdown(html_block(payload(explorer_data(profile), load_fashion_mnist()["test"][0])))
