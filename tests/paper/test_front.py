"""fmnist_lib.paper.chapters.front: the summary's standing among the published results."""
from fmnist_lib.paper.chapters.front import standing_clause
from fmnist_lib.paper.report import PUBLISHED


def test_standing_counts_each_model_and_says_level_inside_the_interval():
    # the full profile of 2026-12-01: LeNet-5 above the MLP, the simple CNN 0.03 pp below it, inside its CI
    text = standing_clause({"Simple CNN": 0.8997, "LeNet-5": 0.9092},
                           {"Simple CNN": (0.8940, 0.9055), "LeNet-5": (0.9038, 0.9144)}, PUBLISHED)
    above_simple = sum(a > 0.8997 for _, _, a in PUBLISHED)
    above_lenet = sum(a > 0.9092 for _, _, a in PUBLISHED)
    assert above_simple == 7 and above_lenet == 5  # counted by hand from the table
    assert text == (f"Simple CNN scores below 7 and LeNet-5 below 5 of the {len(PUBLISHED)} published entries; "
                    "against the benchmark's MLP (0.900), Simple CNN is level (the MLP inside its 95 % CI) and LeNet-5 is above")


def test_standing_below_when_the_interval_excludes_the_mlp():
    text = standing_clause({"Simple CNN": 0.88, "LeNet-5": 0.95},
                           {"Simple CNN": (0.875, 0.885), "LeNet-5": (0.945, 0.955)}, PUBLISHED)
    assert "Simple CNN is below and LeNet-5 is above" in text
