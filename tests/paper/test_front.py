"""fmnist_lib.paper.chapters.front: the summary's standing among the published results."""
from fmnist_lib.paper.chapters.front import standing_clause
from fmnist_lib.paper.report import PUBLISHED


def test_standing_counts_each_model_and_says_level_inside_the_interval():
    # the full profile of 2026-12-01: LeNet-5 above the MLP, the simple CNN 0.03 pp below it, inside its CI
    cis = {"Simple CNN": (0.8940, 0.9055), "LeNet-5": (0.9038, 0.9144)}
    text = standing_clause({"Simple CNN": 0.8997, "LeNet-5": 0.9092}, cis, PUBLISHED)
    above_simple = sum(a > 0.9055 for _, _, a in PUBLISHED)  # above the interval, not inside it
    above_lenet = sum(a > 0.9144 for _, _, a in PUBLISHED)
    assert above_simple == 5 and above_lenet == 5  # counted by hand from the table
    # the MLP (0.900) and the ELU network (0.903) lie inside the simple CNN's interval: level with it,
    # and not counted among those above it
    assert text == (f"Simple CNN scores below 5 of the {len(PUBLISHED)} published entries and level with 2, whose "
                    "accuracies (0.900 and 0.903) lie inside its 95 % CI, the benchmark's MLP among them; LeNet-5 "
                    "scores below 5 and is above the benchmark's MLP (0.900)")


def test_standing_below_when_the_interval_excludes_the_mlp():
    text = standing_clause({"Simple CNN": 0.88, "LeNet-5": 0.95},
                           {"Simple CNN": (0.875, 0.885), "LeNet-5": (0.945, 0.955)}, PUBLISHED)
    assert ("Simple CNN scores below 7 of the 9 published entries and level with 1, whose accuracy (0.876) lies "
            "inside its 95 % CI, and it is below the benchmark's MLP (0.900)") in text
    assert text.endswith("; LeNet-5 scores below 1 and is above the benchmark's MLP (0.900)")


def test_the_conclusions_say_when_the_same_parts_answer_depends_on_the_grid():
    import pandas as pd

    from fmnist_lib.paper.chapters.front import _cam_answer
    from fmnist_lib.saliency import study
    from test_agreement_text import table, values

    fine, coarse = 2, study.GRIDS[1]
    same = pd.concat([table(values(0.35)).assign(explainer="hirescam", cell=fine),
                      table(values(0.35)).assign(explainer="hirescam", cell=coarse)])
    text = _cam_answer(same)
    assert text.startswith("on the 14 × 14 grid, partly by HiResCAM") and "7 × 7" not in text
    flips = pd.concat([table(values(0.25)).assign(explainer="hirescam", cell=fine),   # barely
                       table(values(0.35)).assign(explainer="hirescam", cell=coarse)])  # partly
    text = _cam_answer(flips)
    assert text.startswith("on the 14 × 14 grid, barely by HiResCAM")
    assert "; on the 7 × 7 grid, partly by HiResCAM" in text and text.endswith("so the answer depends on the grid")
