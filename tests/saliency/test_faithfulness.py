"""gradcam_faithfulness: CIs against scipy, gaps and verdicts on both sides."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fmnist_lib.saliency.faithfulness import (brightness_clause, faithful_clause, faithfulness_summary,
                                             faithfulness_counts, faithfulness_verdict, mean_ci, plot_faithfulness)

FILLS = ("black", "mean", "blur", "road")


def test_mean_ci_equals_scipy():
    v = np.random.default_rng(0).normal(0.3, 1.0, 50)
    m, low, high = mean_ci(v)
    ref = stats.ttest_1samp(v, 0).confidence_interval(0.95)
    assert np.isclose(m, v.mean()) and np.isclose(low, ref.low) and np.isclose(high, ref.high)
    assert np.isnan(mean_ci([1.0])[1]) and np.isnan(mean_ci([])[0])
    assert mean_ci([1.0, np.nan, 3.0])[0] == 2.0


def areas(effects: dict, n: int = 40, seed: int = 0) -> pd.DataFrame:
    """Areas where ``effects[(explainer, fill)]`` is how much better than random the map does."""
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


def test_summary_gaps_by_hand():
    s = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    g = s[s["explainer"] == "gradcam"]
    assert len(g) == 8 and g["passes"].all() and np.allclose(g["gap"], 0.2, atol=0.02)
    assert g["beats_baseline"].all()  # brightness has no effect here
    b = s[s["explainer"] == "brightness"]
    assert not b["passes"].any() and "beats_baseline" not in b.dropna(axis=1).columns
    with pytest.raises(ValueError, match="random"):
        faithfulness_summary(areas({}).query("explainer != 'random'"))


def test_verdicts_on_both_sides():
    every = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    text = faithfulness_verdict(every, "simple")
    assert text == ("On Simple CNN, Grad-CAM passes 8 of 8 tests; no map does significantly "
                    "worse than random.")
    none = faithfulness_summary(areas({("gradcam", f): -0.2 for f in FILLS}))
    text = faithfulness_verdict(none, "simple")
    assert "passes 0 of 8" in text and ("worse than random: Grad-CAM in deletion with black, "
                                        "blur and mean fill, ROAD deletion, insertion") in text
    mixed = faithfulness_summary(areas({("gradcam", "black"): 0.2, ("brightness", "black"): 0.4}))
    counts = faithfulness_counts(mixed).set_index("explainer")
    assert counts.loc["Grad-CAM", "passed (of 8)"] == 2 and counts.loc["Grad-CAM", "beats brightness"] == "0"
    assert counts.loc["Brightness (no model)", "beats brightness"] == ""  # capitalised, no self-test
    assert counts.loc["Brightness (no model)", "worse than random"] == 0
    assert counts.loc["Grad-CAM", "worse than random"] == 0
    assert faithfulness_counts(none).set_index("explainer").loc["Grad-CAM", "worse than random"] == 8
    assert faithful_clause(every) == "Grad-CAM passes every perturbation test on Simple CNN"
    assert faithful_clause(mixed) == "no map passes every perturbation test on Simple CNN"
    with pytest.raises(ValueError, match="No rows"):
        faithfulness_verdict(every, "lenet")
    assert plot_faithfulness(every).axes


def test_brightness_beating_the_maps_is_said_plainly():
    mixed = faithfulness_summary(areas({("gradcam", "black"): 0.2, ("brightness", "black"): 0.4,
                                        ("brightness", "blur"): 0.3}))
    g = mixed[mixed["explainer"] == "gradcam"].set_index(["test", "fill"])
    # brightness does better with black and blur fills (both tests): 4 of 8
    assert g["loses_to_baseline"].sum() == 4 and g.loc[("deletion", "black"), "loses_to_baseline"]
    assert (g["vs_baseline_high"] < 0).sum() == 4
    counts = faithfulness_counts(mixed).set_index("explainer")
    assert counts.loc["Grad-CAM", "brightness better"] == "4"
    assert brightness_clause(mixed) == ("The image's brightness, which knows nothing of the model: "
                                        "on Simple CNN it beats Grad-CAM on 4 of 8 tests.")
    every = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    assert brightness_clause(every).endswith("on Simple CNN it beats no map.")
