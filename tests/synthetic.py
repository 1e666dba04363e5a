"""Synthetic predictions shared by the tests of the comparison's statistics and figures, and
synthetic perturbation-test areas shared by the tests of the faithfulness summary and its words."""
import numpy as np


def probas(y: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Softmax of logits that favour the true class by 2 plus Gaussian noise: (n, 10); more
    ``noise`` gives a worse model."""
    z = rng.normal(scale=noise, size=(len(y), 10))
    z[np.arange(len(y)), y] += 2
    return np.exp(z) / np.exp(z).sum(1, keepdims=True)


def run(y: np.ndarray, acc: float, rng: np.random.Generator) -> dict:
    """One stored run whose test predictions are right with probability ``acc`` (else the next
    class), with a two-epoch history ending at validation accuracy ``acc``, of 2 s."""
    import pandas as pd

    pred = np.where(rng.random(len(y)) < acc, y, (y + 1) % 10)
    return {"test_proba": np.eye(10)[pred], "history": pd.DataFrame({"val_acc": [0.5, acc]}), "seconds": 2.0}


FILLS = ("black", "mean", "blur", "road")


def faith_areas(effects: dict, n: int = 40, seed: int = 0):
    """Perturbation-test areas (``saliency.study``'s ``faith_areas``) for the simple model where
    ``effects[(explainer, fill)]`` is how much better than random Grad-CAM or the brightness does."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for fill in FILLS:
        for test in ("deletion", "insertion"):
            base = rng.uniform(0.3, 0.7, n)
            rows.append(pd.DataFrame({"explainer": "random", "area": base}))
            for e in ("gradcam", "brightness"):
                d = effects.get((e, fill), 0.0) + rng.normal(0, 0.02, n)
                rows[-1:] += [pd.DataFrame({"explainer": e,
                                            "area": base - d if test == "deletion" else base + d})]
            for df in rows[-3:]:
                df["test"], df["fill"], df["image"], df["model"] = test, fill, np.arange(n), "simple"
    return pd.concat(rows, ignore_index=True)


def constant_gaps(gaps: dict, n: int = 10):
    """Areas whose per-image gap over random is exactly ``gaps[(test, fill)]`` on every image
    (so the 95 % CI is that single value) for Grad-CAM on the simple model."""
    import pandas as pd

    rows = []
    for (test, fill), g in gaps.items():
        base = np.linspace(0.25, 0.75, n)
        area = base - g if test == "deletion" else base + g
        for e, a in (("random", base), ("gradcam", area)):
            rows.append(pd.DataFrame({"model": "simple", "explainer": e, "test": test, "fill": fill,
                                      "image": np.arange(n), "area": a}))
    return pd.concat(rows, ignore_index=True)
