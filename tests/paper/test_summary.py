"""The front page's sentences follow the numbers in both directions."""
import numpy as np
import pandas as pd
import pytest

from fmnist_lib.paper import summary
from fmnist_lib.paper.summary import (abstract_result, conclusion_verdict, cost_clause, edge_count_clause, ensemble_clause, recipe_dependence,
                                seed_overlap_sentence, tuning_summary)


def result(verdict, diff=0.01, low=0.005, high=0.015):
    return {"verdict": verdict, "diff": diff, "ci90_low": low, "ci90_high": high, "margin": 0.01}


def test_recipe_dependence_same_and_different():
    same = recipe_dependence(result("equivalent"), result("equivalent"), "Simple CNN", "LeNet-5")
    assert same == ("The verdict is the same (equivalent) with the defaults both models share and "
                    "with each model's tuned values.")
    differ = recipe_dependence(result("inconclusive", 0.0116), result("equivalent", 0.0011),
                               "Simple CNN", "LeNet-5")
    assert differ.startswith("The verdict therefore depends on the hyperparameters")
    assert differ.index("equivalent with the defaults") < differ.index("inconclusive with each model's tuned")


def test_conclusion_verdict_states_the_answer_and_who_is_ahead():
    ahead = dict(ci95_low=0.004, ci95_high=0.016)
    both = conclusion_verdict({**result("inconclusive"), **ahead}, {**result("inconclusive"), **ahead},
                              "simple CNN", "LeNet-5")
    assert both == ("Both verdicts are inconclusive: the simple CNN is neither shown to match LeNet-5 within the "
                    "±1 pp margin nor to differ from it by more than the margin, although LeNet-5 is detectably "
                    "ahead in both")
    level = dict(ci95_low=-0.004, ci95_high=0.006)
    eq = conclusion_verdict({**result("equivalent"), **level}, {**result("equivalent"), **ahead}, "simple CNN", "LeNet-5")
    assert eq == "Both verdicts are equivalent: the simple CNN matches LeNet-5 within the ±1 pp margin"
    mixed = conclusion_verdict({**result("equivalent"), **level}, {**result("different"), **ahead}, "A", "B")
    assert mixed.startswith("The verdict depends on the hyperparameters: different with the defaults both share, "
                            "equivalent with each model's tuned values")


@pytest.mark.parametrize("verdict, words", [("equivalent", "inside the ±1 pp margin"),
                                            ("different", "wholly outside the ±1 pp margin"),
                                            ("inconclusive", "across the ±1 pp margin")])
def test_ensemble_clause_follows_the_verdict(verdict, words):
    text = ensemble_clause(result(verdict, 0.0161, 0.0124, 0.0199), "Simple CNN", "LeNet-5")
    assert text.endswith(words) and "+1.61 pp" in text and "[+1.24, +1.99]" in text
    assert "test-image noise only" in text  # no seed count: one run per model
    five = ensemble_clause(result(verdict, 0.0161, 0.0124, 0.0199) | {"seeds": 5}, "Simple CNN", "LeNet-5")
    assert "seeds and test images resampled" in five and "noise only" not in five


def test_seed_overlap_in_both_directions():
    assert seed_overlap_sentence([0.87, 0.88], [0.89, 0.90], "A", "B").startswith("Every B seed scores higher")
    assert seed_overlap_sentence([0.91, 0.92], [0.89, 0.90], "A", "B").startswith("Every A seed scores higher")
    assert seed_overlap_sentence([0.87, 0.895], [0.89, 0.90], "A", "B").startswith("The two models' seed ranges overlap")
    with pytest.raises(ValueError):
        seed_overlap_sentence([], [0.9], "A", "B")


def test_tuning_summary_words_follow_the_intervals():
    table = pd.DataFrame({"model": ["Simple CNN", "LeNet-5", "X"], "difference": [-0.0016, 0.009, -0.01],
                          "low": [-0.0073, 0.0052, -0.02], "high": [0.0039, 0.0127, -0.001]})
    text = tuning_summary(table)
    assert "did not measurably change Simple CNN's accuracy (-0.16 pp" in text
    assert "raised LeNet-5's accuracy (+0.90 pp" in text
    assert "lowered X's accuracy" in text


def test_edge_count_clause():
    grid = {"lr": [1e-3, 1e-2], "batch_size": [32, 64, 128]}
    inside = edge_count_clause({"a": {"lr": 1e-3, "batch_size": 64}}, {"batch_size": [32, 64, 128]})
    assert inside == "no chosen value lies on an edge of the grid that a wider grid could move past"
    text = edge_count_clause({"a": {"lr": 1e-2, "batch_size": 32}, "b": {"lr": 1e-2, "batch_size": 64}},
                             grid, {"a": "A", "b": "B"})
    assert text.startswith("2 of A's 2 searched values and 1 of B's 2 searched values lie on an edge of the grid")
    # A weight decay of 0 on the lowest edge cannot be moved past: not counted, no contradiction.
    wd = {"lr": [1e-3, 1e-2, 1e-1], "optimizer__weight_decay": [0.0, 1e-4]}
    zero = edge_count_clause({"a": {"lr": 1e-2, "optimizer__weight_decay": 0.0}}, wd)
    assert zero.startswith("no chosen value lies on an edge")
    one = edge_count_clause({"a": {"lr": 1e-1, "optimizer__weight_decay": 0.0}}, wd, {"a": "A"})
    assert one.startswith("1 of A's 2 searched values lies on an edge")


def test_cost_clause_in_both_directions():
    slow = cost_clause(0.173, {"train": 2.0, "inference": 0.66})
    assert slow.startswith("Multiply-adds do not predict") and "5.8 times fewer" in slow
    assert "classifies more slowly" in slow and "trains" not in slow.split("still")[1]
    fast = cost_clause(0.173, {"train": 2.0, "inference": 1.2})
    assert "faster at both" in fast
    assert cost_clause(1.5, {"train": 1.0, "inference": 1.0}).startswith("The simple CNN does not")


@pytest.mark.parametrize("b_low, word", [(0.88, "overlap"), (np.nextafter(0.88, 1), "Every B seed")])
def test_seed_overlap_when_ranges_touch(b_low, word):
    assert word in seed_overlap_sentence([0.87, 0.88], [b_low, 0.90], "A", "B")
    assert word.replace("B", "A") in seed_overlap_sentence([b_low, 0.90], [0.87, 0.88], "A", "B")


@pytest.mark.parametrize("low, high, word", [(0.0, 0.01, "did not measurably change"),
                                             (np.nextafter(0.0, 1), 0.01, "raised"),
                                             (-0.01, 0.0, "did not measurably change"),
                                             (-0.01, np.nextafter(0.0, -1), "lowered")])
def test_tuning_summary_at_zero(low, high, word):
    table = pd.DataFrame({"model": ["M"], "difference": [(low + high) / 2], "low": [low], "high": [high]})
    assert tuning_summary(table).startswith(f"Tuning {word} M's accuracy")


def test_seed_overlap_and_tuning_summary_exact_sentences():
    assert seed_overlap_sentence([0.87, 0.885], [0.89, 0.9], "A", "B") == (
        "Every B seed scores higher than every A seed (A 87.00 % to 88.50 %, B 89.00 % to 90.00 %).")
    for a, b in (([], [0.9]), ([0.9], [])):
        with pytest.raises(ValueError, match=r"^Both models need at least one seed's accuracy\.$"):
            seed_overlap_sentence(a, b, "A", "B")
    table = pd.DataFrame({"model": ["Simple CNN", "LeNet-5"], "difference": [-0.0016, 0.009],
                          "low": [-0.0073, 0.0052], "high": [0.0039, 0.0127]})
    assert tuning_summary(table) == (
        "Tuning did not measurably change Simple CNN's accuracy (-0.16 pp, 95 % CI [-0.73, +0.39]) "
        "and raised LeNet-5's accuracy (+0.90 pp, 95 % CI [+0.52, +1.27])")
def test_abstract_result_states_both_comparisons_and_their_verdicts():
    tuned = {"diff": -0.0429, "ci90_low": -0.0478, "ci90_high": -0.0376, "margin": 0.01, "verdict": "different"}
    default = {"diff": 0.002, "ci90_low": -0.004, "ci90_high": 0.008, "margin": 0.01, "verdict": "equivalent"}
    text = abstract_result(tuned, default, "simple CNN", "LeNet-5")
    assert text.startswith("LeNet-5's test accuracy minus the simple CNN's is -4.29 pp (90 % CI [-4.78, -3.76]), "
                           "a difference larger than the ±1 pp margin, with each model's tuned")
    assert "+0.20 pp (90 % CI [-0.40, +0.80]), equivalent within the ±1 pp margin, with the defaults" in text
    both = abstract_result(tuned | {"verdict": "inconclusive"}, default | {"verdict": "inconclusive"}, "simple CNN", "LeNet-5")
    assert both.count("neither equivalence") == 1 and both.endswith(
        "with the defaults both share: both times neither equivalence nor a difference beyond the ±1 pp margin.")


def test_cost_clause_when_one_task_is_not_consistently_faster():
    spread = {"train": (1.43, 2.12, 5), "inference": (0.75, 1.39, 5)}
    text = cost_clause(0.173, {"train": 1.77, "inference": 1.06}, spread)
    assert text.startswith("With 5.8 times fewer multiply-adds per image, the simple CNN trains faster but is not "
                           "consistently faster when it classifies")
    assert "faster at both" not in text
    both = cost_clause(0.173, {"train": 1.77, "inference": 1.2}, {"train": (1.4, 2.1, 5), "inference": (1.1, 1.3, 5)})
    assert "faster at both" in both


# --- mutation survivors (issue 25, part B): every branch's exact words and its edges -----------

def test_difference_ci_in_points_with_signs():
    assert summary.difference_ci({"diff": 0.0011, "ci90_low": -0.003, "ci90_high": 0.0053}) == (
        "+0.11 pp (90 % CI [-0.30, +0.53])")
    assert summary.difference_ci({"diff": -0.0429, "ci90_low": -0.0478, "ci90_high": -0.0376}) == (
        "-4.29 pp (90 % CI [-4.78, -3.76])")


@pytest.mark.parametrize("tuned_ci, default_ci, lead", [
    ((0.004, 0.016), (0.001, 0.02), ", although B is detectably ahead in both"),
    ((-0.016, -0.004), (-0.02, -0.001), ", although A is detectably ahead in both"),
    ((0.004, 0.016), (-0.002, 0.02), ""),  # tuned ahead, default level
    ((-0.016, -0.004), (0.001, 0.02), ""),  # each model ahead once
    ((-0.002, 0.02), (-0.002, 0.02), ""),  # level both times
    ((0.0, 0.02), (0.0, 0.02), ""),  # an interval ending at 0 does not exclude it
    ((np.nextafter(0.0, 1), 0.02), (np.nextafter(0.0, 1), 0.02), ", although B is detectably ahead in both"),
    ((-0.02, 0.0), (-0.02, 0.0), ""),
    ((-0.02, np.nextafter(0.0, -1)), (-0.02, np.nextafter(0.0, -1)), ", although A is detectably ahead in both"),
    ((-0.02, 0.5), (-0.02, 0.5), ""),  # wholly below 1 but not below 0
])
def test_conclusion_verdict_who_is_ahead_on_both_sides_of_zero(tuned_ci, default_ci, lead):
    tuned = {**result("different"), "ci95_low": tuned_ci[0], "ci95_high": tuned_ci[1]}
    default = {**result("different"), "ci95_low": default_ci[0], "ci95_high": default_ci[1]}
    assert conclusion_verdict(tuned, default, "A", "B") == (
        "Both verdicts are different: the two models differ by more than the ±1 pp margin" + lead)


def test_edge_count_clause_counts_only_what_a_wider_grid_could_move():
    # a zero on the lowest edge of an axis other than weight decay can still move (below 0 it cannot,
    # but the rule exempts weight decay only); weight decay on its highest edge counts
    grid = {"dropout": [0.0, 0.5], "optimizer__weight_decay": [0.0, 1e-4], "epochs": [10]}
    text = edge_count_clause({"m": {"dropout": 0.0, "optimizer__weight_decay": 1e-4, "epochs": 10}}, grid)
    assert text == ("2 of m's 2 searched values lie on an edge of the grid that a wider grid could move past, "
                    "so better values may lie beyond it")
    one = edge_count_clause({"m": {"dropout": 0.5, "optimizer__weight_decay": 0.0, "epochs": 10}}, grid)
    assert one.startswith("1 of m's 2 searched values lies on an edge")
    # two models with one edge value between them: "lie" (the count is per model)
    two = edge_count_clause({"m": {"dropout": 0.5, "optimizer__weight_decay": 0.0, "epochs": 10},
                             "n": {"dropout": 0.25, "optimizer__weight_decay": 0.0, "epochs": 10}},
                            {**grid, "dropout": [0.0, 0.25, 0.5]}, {"n": "N"})
    assert two.startswith("1 of m's 2 searched values and 0 of N's 2 searched values lie on an edge")


def test_cost_clause_exact_sentences_and_the_edges_of_one():
    fewer = "With 5.0 times fewer multiply-adds per image, the simple CNN"
    assert cost_clause(0.2, {"train": 1.5, "inference": 1.2}) == (
        f"{fewer} is faster at both, though not in proportion to the multiply-adds.")
    assert cost_clause(0.2, {"train": 0.5, "inference": 0.8}) == (
        "Multiply-adds do not predict these ratios: with 5.0 times fewer multiply-adds per image, the simple "
        "CNN still trains and classifies more slowly. This benchmark measures the cost; it does not explain it "
        "(no per-layer profile was taken).")
    # a ratio of exactly 1 is not slower
    assert cost_clause(0.2, {"train": 1.0, "inference": 1.0}).endswith("faster at both, though not in "
                                                                    "proportion to the multiply-adds.")
    # the same multiply-adds are not fewer
    assert cost_clause(1.0, {"train": 2.0, "inference": 2.0}) == (
        "The simple CNN does not need fewer multiply-adds per image.")
    assert cost_clause(np.nextafter(1.0, 0), {"train": 2.0, "inference": 2.0}).startswith("With 1.0 times fewer")
    both = {"train": (0.8, 1.3, 5), "inference": (0.9, 1.1, 5)}
    assert cost_clause(0.2, {"train": 1.05, "inference": 0.95}, both) == (
        f"{fewer} is not consistently faster when it trains and classifies: the per-repeat ratios lie on "
        "both sides of 1 at the one batch size it was timed at.")
    # repeats wholly below 1 are slower, not mixed, whatever their count; a spread that ends or starts at 1
    # does not lie on both sides of it
    low = {"train": (0.5, 0.9, 5), "inference": (1.0, 1.5, 5)}
    text = cost_clause(0.2, {"train": 0.7, "inference": 1.2}, low)
    assert text.startswith("Multiply-adds do not predict") and "still trains more slowly" in text
    assert cost_clause(0.2, {"train": 1.2, "inference": 1.2}, {"train": (0.8, 1.0, 5), "inference": (1.0, 1.2, 5)}
                       ).endswith("faster at both, though not in proportion to the multiply-adds.")


@pytest.mark.parametrize("seeds, words", [(None, "test-image noise only"), (1, "test-image noise only"),
                                          (2, "seeds and test images resampled")])
def test_ensemble_clause_exact_sentence(seeds, words):
    e = result("inconclusive", 0.0161, 0.0124, 0.0199) | ({} if seeds is None else {"seeds": seeds})
    assert ensemble_clause(e, "Simple CNN", "LeNet-5") == (
        "averaging each model's probabilities over its seeds, the LeNet-5 ensemble minus the Simple CNN ensemble "
        f"is +1.61 pp (90 % CI [+1.24, +1.99], {words}), across the ±1 pp margin")
