"""The evaluation's results in words and as formatted tables: equivalence, McNemar, speed, cost,
and the runs of one stage (the computation is in ``evaluation/``)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..models import DISPLAY_NAMES

__all__ = ["equivalence_sentence", "mcnemar_sentence", "mcnemar_pivot", "speed_sentence", "ratio_spread", "cost_table",
           "runs_table"]


def equivalence_sentence(result: Mapping, a: str, b: str, subject: str = "the models") -> str:
    """The verdict of :func:`accuracy_difference` in words (``b`` minus ``a``).

    The verdict words are defined once, where the paper states its question (report.qmd,
    "What match means"): *equivalent* (the 90 % interval inside the margin), *different*
    (wholly outside it), *inconclusive* (across it) and *detectable* (the 95 % interval
    excludes 0); each statement names them without repeating the definition. ``subject``
    names what differs (e.g. ``"the seed ensembles"``). With one seed per model the interval
    holds test-image noise only, and a "different" verdict says so.
    """
    m = 100 * result["margin"]
    ci90 = f"90 % CI [{100 * result['ci90_low']:+.2f}, {100 * result['ci90_high']:+.2f}] pp"
    over = ("bootstrap over test images" if result["seeds"] == 1 else
            f"{result['seeds']} seeds per model, bootstrap over seeds and test images")
    head = f"{b} minus {a} is {100 * result['diff']:+.2f} percentage points ({ci90}, {over})"
    zero = "detectable" if result["ci95_low"] > 0 or result["ci95_high"] < 0 else "not detectable"
    verdict = {
        "equivalent": f"equivalent at the ±{m:g} pp margin",
        "different": f"different: {subject} differ by more than the ±{m:g} pp margin"
                     + (" (test-image noise only)" if result["seeds"] == 1 else ""),
        "inconclusive": f"inconclusive at the ±{m:g} pp margin",
    }[result["verdict"]]
    return f"{head}: {verdict}, and {zero}."


def mcnemar_sentence(table: pd.DataFrame, alpha: float = 0.05) -> str:
    """How many seed pairs McNemar calls significant, between the models and within each."""
    parts = []
    for kind, g in table.groupby("kind", sort=False):
        k = int((g["pvalue"] < alpha).sum())
        parts.append(f"{k} of {len(g)} pairs {kind}")
    return (f"McNemar's exact test at the {100 * alpha:g} % level calls "
            + ", ".join(parts) + " significant")


def mcnemar_pivot(table: pd.DataFrame) -> pd.DataFrame:
    """The between-model p-values of :func:`mcnemar_seed_pairs` as a seed-by-seed matrix of strings."""
    between = table[table["kind"] == "between models"]
    wide = between.pivot(index="a", columns="b", values="pvalue")
    return wide.map(lambda v: f"{v:.2g}").rename_axis(index="", columns=None).reset_index()


def _times(ratio: float, verb: str, name: str, other: str) -> tuple[str, str]:
    """(subject, predicate): the faster model is always the subject, so no "times slower"."""
    if ratio >= 1.05:
        return name, f"{verb} {ratio:.1f} times as fast as {other}"
    if ratio <= 1 / 1.05:
        return other, f"{verb} {1 / ratio:.1f} times as fast as {name}"
    return name, f"{verb} about as fast as {other} (ratio {ratio:.2f})"


def ratio_spread(timings: pd.DataFrame, fast: str, slow: str) -> dict[str, tuple[float, float, int]]:
    """Per task, ``(lowest, highest, repeats)`` of ``fast``'s images/s over ``slow``'s in the same
    repeat: the spread behind ``evaluation.benchmark.speed_ratios``' medians."""
    wide = timings.pivot_table(index=["task", "repeat"], columns="model", values="images_per_s")
    ratio = (wide[fast] / wide[slow]).groupby(level="task")
    return {task: (float(r.min()), float(r.max()), int(r.size)) for task, r in ratio}


def speed_sentence(ratios: Mapping[str, float], name: str, other: str,
                   spread: Mapping[str, tuple[float, float, int]] | None = None) -> str:
    """E.g. ``"the Simple CNN trains 2.0 times as fast as LeNet-5, while LeNet-5 classifies
    1.5 times as fast as the Simple CNN"``: ratios within 5 % of 1 read "about as fast"; the
    faster model is named as the subject, so no ratio is ever read as "times slower".

    Parameters
    ----------
    ratios : dict
        ``{"train": ratio, "inference": ratio}`` of ``name``'s speed to ``other``'s (medians of
        the per-repeat ratios).
    spread : dict, optional
        :func:`ratio_spread`: each ratio is then said with its range over the repeats, and a task
        whose per-repeat ratios lie on both sides of 1 reads "neither ... consistently faster".
    """
    the = f"the {name}"
    said = {}
    for task, verb, base in (("train", "trains", "trains"), ("inference", "classifies", "classifies")):
        subject, predicate = _times(ratios[task], verb, the, other)
        if spread is not None:
            low, high, n = spread[task]
            if low < 1 < high:
                subject, predicate = "", (f"neither model {base} consistently faster "
                                          f"(per-repeat ratios {low:.2f} to {high:.2f} over {n} repeats)")
            else:
                predicate += f" (median of {n} per-repeat ratios, {low:.2f} to {high:.2f})"
        said[task] = (subject, predicate)
    (s1, p1), (s2, p2) = said["train"], said["inference"]
    first = f"{s1} {p1}".strip()
    if s1 == s2 and s1:
        return f"{first} and {p2}"
    return f"{first}, while {s2} {p2}".replace(",  ", ", ").replace("while  ", "while ")


def prose_name(name: str) -> str:
    """"the Simple CNN" in running prose; "LeNet-5" is a name and takes no article."""
    return f"the {name}" if name == DISPLAY_NAMES["simple"] else name


def inference_clause(summary: pd.DataFrame, kernels: str) -> str:
    """Which models classify fewer images per second than they train (medians of the cost
    benchmark), e.g. ``"both models classify fewer images per second than they train"``, with
    the reason the two columns differ in more than the batch size when training ran the fused
    kernels (``kernels == "fused"``); ``""`` when every model classifies faster."""
    s = summary.set_index(["model", "task"])["median"]
    models = list(dict.fromkeys(summary["model"]))
    slower = [m for m in models if s.loc[(m, "inference")] < s.loc[(m, "train")]]
    if not slower:
        return ""
    who = ("both models classify" if len(slower) == len(models) == 2 else
           f"{prose_name(slower[0])} classifies" if len(slower) == 1 else f"{len(slower)} models classify")
    they = "they train" if len(slower) > 1 else "it trains"
    why = (" (its training steps run the fused kernels, its inference PyTorch's modules, so the two "
           "columns differ in kernels as well as in batch size)" if kernels == "fused" and len(slower) == 1 else
           " (their training steps run the fused kernels, their inference PyTorch's modules, so the two "
           "columns differ in kernels as well as in batch size)" if kernels == "fused" else
           ", so something other than the multiply-adds limits inference there (not profiled)")
    return f"{who} fewer images per second than {they}{why}"


def cost_table(complexity: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Size and measured speed per model: layers, parameters, multiply-adds, and the median
    [IQR] images per second of training and of inference, formatted for the report."""
    table = complexity.copy()
    for col in ("parameters", "macs"):
        table[col] = table[col].map(lambda v: f"{int(v):,}")
    s = summary.set_index(["model", "task"])
    for task, title in (("train", "training images / s"), ("inference", "inference images / s")):
        table[f"{title}, median [IQR]"] = [
            f"{s.loc[(m, task), 'median']:,.0f} [{s.loc[(m, task), 'q25']:,.0f}, {s.loc[(m, task), 'q75']:,.0f}]"
            for m in table["model"]]
    return table.rename(columns={"conv_layers": "conv layers", "fc_layers": "fc layers", "macs": "multiply-adds"})


def runs_table(runs: dict[str, list[dict]], y_test: np.ndarray) -> pd.DataFrame:
    """Per model, over its seeds: epochs, mean validation and test accuracy, the test accuracy's
    seed range and the mean training seconds of one run (on one thread). Formatted strings."""
    rows = []
    for name, rs in runs.items():
        test = [float((r["test_proba"].argmax(1) == y_test).mean()) for r in rs]
        rows.append({"model": DISPLAY_NAMES[name], "seeds": len(rs), "epochs": len(rs[0]["history"]),
                     "final val accuracy (mean)": f"{np.mean([r['history']['val_acc'].iloc[-1] for r in rs]):.4f}",
                     "test accuracy (mean)": f"{np.mean(test):.4f}",
                     "test accuracy (seed range)": f"{min(test):.4f} to {max(test):.4f}",
                     "seconds per run": f"{np.mean([r['seconds'] for r in rs]):.0f}"})
    return pd.DataFrame(rows)
