"""paper.saliency_tables: the perturbation counts, the randomisation table with its reference,
and the agreement table on one set of images per explainer and metric."""
import numpy as np
import pandas as pd
import pytest

from fmnist_lib.paper.saliency_tables import (REFERENCE, agreement_display, faithfulness_counts,
                                              randomisation_display)
from fmnist_lib.saliency.faithfulness import faithfulness_summary
from fmnist_lib.saliency.sanity import randomisation_check
from synthetic import FILLS, constant_gaps, faith_areas as areas


def test_faithfulness_counts_on_both_sides():
    none = faithfulness_summary(areas({("gradcam", f): -0.2 for f in FILLS}))
    mixed = faithfulness_summary(areas({("gradcam", "black"): 0.2, ("brightness", "black"): 0.4}))
    counts = faithfulness_counts(mixed).set_index("explainer")
    assert counts.loc["Grad-CAM", "passed (of 8)"] == 2 and counts.loc["Grad-CAM", "beats brightness"] == "0"
    assert counts.loc["Brightness (no model)", "beats brightness"] == ""  # capitalised, no self-test
    assert counts.loc["Brightness (no model)", "worse than random"] == 0
    assert counts.loc["Grad-CAM", "worse than random"] == 0
    assert faithfulness_counts(none).set_index("explainer").loc["Grad-CAM", "worse than random"] == 8
    better = faithfulness_summary(areas({("gradcam", "black"): 0.2, ("brightness", "black"): 0.4,
                                         ("brightness", "blur"): 0.3}))
    assert faithfulness_counts(better).set_index("explainer").loc["Grad-CAM", "brightness better"] == "4"
    for gap, passes, worse in ((0.0, 0, 0), (1e-9, 1, 0), (-1e-9, 0, 1)):
        row = faithfulness_counts(faithfulness_summary(constant_gaps(
            {("deletion", "black"): gap, ("insertion", "black"): 0.1}))).iloc[0]
        assert row["passed (of 2)"] == 1 + passes and row["worse than random"] == worse


def test_randomisation_display_ends_each_block_with_the_checks_reference():
    rng = np.random.default_rng(0)
    rows, refs = [], []
    for model in ("simple", "lenet"):
        for e in ("gradcam", "occlusion"):
            for step, layer in ((1, "fc"), (2, "conv")):
                rows.append(pd.DataFrame({"step": step, "layer": layer, "image": np.arange(10),
                                          "spearman": rng.normal(0.5 / step, 0.05, 10), "model": model,
                                          "explainer": e}))
            ref = rng.normal(0.1, 0.05, 10)
            ref[0] = np.nan
            refs.append(pd.DataFrame({"image": np.arange(10), "spearman": ref, "model": model, "explainer": e}))
    rand, reference = pd.concat(rows, ignore_index=True), pd.concat(refs, ignore_index=True)
    t = randomisation_display(rand, reference, {m: {"fc": "fc10", "conv": "conv1"} for m in ("simple", "lenet")},
                              {"gradcam": "Grad-CAM"})
    assert len(t) == 12 and list(t.columns) == ["model", "explainer", "step", "layer", "mean Spearman",
                                                "CI low", "CI high", "n"]
    block = t[(t["model"] == "LeNet-5") & (t["explainer"] == "occlusion")]
    assert list(block["layer"]) == ["fc10", "conv1", REFERENCE] and list(block["step"]) == [1, 2, ""]
    c = randomisation_check(rand.query("model == 'lenet' and explainer == 'occlusion'"),
                            reference.query("model == 'lenet' and explainer == 'occlusion'"))
    last, ref = block.iloc[1], block.iloc[2]  # image 0 has no reference: it leaves the whole block
    assert (last["mean Spearman"], last["CI low"], last["CI high"]) == pytest.approx(c["last"])
    assert (ref["mean Spearman"], ref["CI low"], ref["CI high"]) == pytest.approx(c["reference"])
    assert list(block["n"]) == [9, 9, 9]
    assert set(t["explainer"]) == {"Grad-CAM", "occlusion"}


def test_agreement_display_rows_share_one_image_set_per_metric():
    comps = ["A seeds", "B seeds", "A vs B", "same class, other image"]
    rng = np.random.default_rng(1)
    rows = []
    for c in comps:
        rho, top = rng.normal(0.3, 0.1, 8), rng.random(8)
        if c == "A seeds":
            rho[:2] = np.nan
        if c == "A vs B":
            top[5] = np.nan
        rows.append(pd.DataFrame({"comparison": c, "image": np.arange(8), "spearman": rho, "top5": top}))
    df = pd.concat(rows, ignore_index=True).assign(explainer="gradcam", cell=2)
    t = agreement_display(df, 2, {"gradcam": "Grad-CAM"})
    assert list(t["explainer"].unique()) == ["Grad-CAM"] and t["images"].eq(8).all()
    assert t["used (Spearman / top k)"].eq("6 / 7").all()
    mean = df[df["image"] >= 2].groupby("comparison")["spearman"].mean()
    for c, text in zip(t["comparison"], t["Spearman"]):
        assert text.startswith(f"{mean[c]:.2f} [")
