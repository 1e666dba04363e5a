"""paper.gradcam_plots: the perturbation-test figure draws the summary's numbers, and the
agreement figure's panels average the images the table and the text use (the map grids:
tests/saliency/test_gradcam.py)."""
import numpy as np
import pandas as pd

from fmnist_lib.paper.gradcam_plots import plot_agreement_references, plot_faithfulness
from fmnist_lib.saliency.agreement import agreement_table
from fmnist_lib.saliency.faithfulness import faithfulness_summary
from synthetic import FILLS, faith_areas as areas


def test_plot_faithfulness_draws_each_gap_with_its_interval():
    s = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    fig = plot_faithfulness(s)
    assert len(fig.axes) == 1  # one panel per model
    ax = fig.axes[0]
    drawn = ax.containers  # one errorbar container per explainer
    for container, e in zip(drawn, dict.fromkeys(s["explainer"])):
        sub = s[s["explainer"] == e]
        x, _ = container.lines[0].get_data()
        np.testing.assert_allclose(np.asarray(x, float), sub["gap"].to_numpy(float))
        segs = container.lines[2][0].get_segments()
        np.testing.assert_allclose([seg[0][0] for seg in segs], sub["gap_low"].to_numpy(float))
        np.testing.assert_allclose([seg[1][0] for seg in segs], sub["gap_high"].to_numpy(float))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == sorted(f"{t}, {f}" for t in ("deletion", "insertion") for f in FILLS)


def test_agreement_figure_points_are_the_tables_means_on_its_images():
    comps = ["A seeds", "B seeds", "A vs B", "same class, other image"]
    rng = np.random.default_rng(2)
    rows = []
    for e in ("gradcam", "occlusion"):
        for c in comps:
            rho = rng.normal(0.3, 0.1, 12)
            if e == "gradcam" and c == "A seeds":
                rho[:3] = np.nan
            rows.append(pd.DataFrame({"comparison": c, "image": np.arange(12), "spearman": rho,
                                      "explainer": e, "cell": 2}))
    df = pd.concat(rows, ignore_index=True)
    fig = plot_agreement_references(df, 2, {"gradcam": "Grad-CAM"})
    assert [ax.get_title() for ax in fig.axes] == ["Grad-CAM (n = 9 of 12)", "occlusion (n = 12)"]
    t = agreement_table(df[df["explainer"] == "gradcam"].drop(columns=["explainer", "cell"]))
    x = fig.axes[0].collections[-1].get_offsets()[:, 0]  # the scatter of the means
    np.testing.assert_allclose(x, t[("spearman", "mean")].to_numpy())
