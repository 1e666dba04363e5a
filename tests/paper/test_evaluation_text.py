"""fmnist_lib.paper.evaluation_text: the evaluation's sentences and formatted tables."""
import numpy as np
import pandas as pd
import pytest
from synthetic import run

from fmnist_lib.paper import evaluation_text as et


def test_mcnemar_sentence_counts_only_small_p_values():
    table = pd.DataFrame({"kind": ["between models"] * 3, "pvalue": [0.01, 0.2, 0.049]})
    assert "2 of 3 pairs between models" in et.mcnemar_sentence(table)
    assert "0 of 3" in et.mcnemar_sentence(table, alpha=0.005)


def test_mcnemar_pivot_is_seed_by_seed():
    table = pd.DataFrame({"kind": ["between models"] * 4 + ["within A"], "a": ["A/0", "A/0", "A/1", "A/1", "A/0"],
                          "b": ["B/0", "B/1", "B/0", "B/1", "A/1"], "pvalue": [0.5, 0.01, 0.0001234, 1.0, 0.3]})
    wide = et.mcnemar_pivot(table)
    assert wide.shape == (2, 3) and wide.iloc[1]["B/0"] == "0.00012" and wide.iloc[0]["B/1"] == "0.01"


def test_mcnemar_sentence_at_alpha_is_not_significant():
    table = pd.DataFrame({"kind": ["between models"] * 3 + ["within A"],
                          "pvalue": [0.05, np.nextafter(0.05, 0), 0.5, 0.01]})
    assert et.mcnemar_sentence(table) == ("McNemar's exact test at the 5 % level calls 1 of 3 pairs "
                                          "between models, 1 of 1 pairs within A significant")


def test_mcnemar_sentence_keeps_the_table_order():
    table = pd.DataFrame({"kind": ["between models", "within Simple CNN", "within LeNet-5"],
                          "pvalue": [0.01, 0.5, 0.5]})
    assert et.mcnemar_sentence(table).endswith(
        "1 of 1 pairs between models, 0 of 1 pairs within Simple CNN, 0 of 1 pairs within LeNet-5 significant")


@pytest.mark.parametrize("train, infer, words", [
    (2.0, 1.1, ["trains 2.0 times as fast as LeNet-5", "classifies 1.1 times as fast as LeNet-5"]),
    (0.5, 1.02, ["LeNet-5 trains 2.0 times as fast as the Simple CNN",
                 "the Simple CNN classifies about as fast as LeNet-5 (ratio 1.02)"]),
    (2.0, 1 / 1.5, ["the Simple CNN trains 2.0 times as fast as LeNet-5",
                    "while LeNet-5 classifies 1.5 times as fast as the Simple CNN"])])
def test_speed_sentence_each_direction(train, infer, words):
    text = et.speed_sentence({"train": train, "inference": infer}, "Simple CNN", "LeNet-5")
    assert all(w in text for w in words) and "slower" not in text


def test_cost_table_formats_every_number():
    complexity = pd.DataFrame({"model": ["A"], "conv_layers": [1], "fc_layers": [1], "parameters": [15770],
                               "macs": [72000]})
    summary = pd.DataFrame({"model": ["A", "A"], "task": ["train", "inference"], "median": [2000.4, 9000.0],
                            "q25": [1900.0, 8000.0], "q75": [2100.0, 9500.0], "repeats": [5, 5]})
    row = et.cost_table(complexity, summary).iloc[0]
    assert row["parameters"] == "15,770" and row["training images / s, median [IQR]"] == "2,000 [1,900, 2,100]"


def test_runs_table_formats_means_and_ranges():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 500)
    runs = {"simple": [run(y, 0.9, rng), run(y, 0.8, rng)]}
    row = et.runs_table(runs, y).iloc[0]
    accs = [(r["test_proba"].argmax(1) == y).mean() for r in runs["simple"]]
    assert row["model"] == "Simple CNN" and row["seeds"] == 2 and row["epochs"] == 2
    assert row["test accuracy (mean)"] == f"{np.mean(accs):.4f}"
    assert row["test accuracy (seed range)"] == f"{min(accs):.4f} to {max(accs):.4f}"


def test_speed_sentence_with_the_spread_over_repeats():
    import pandas as pd

    # the full profile of 2026-12-01: training ratios 1.43-2.12, inference 0.75-1.39 per repeat
    train, infer = [1.43, 1.44, 2.05, 2.12, 1.77], [1.04, 1.39, 1.06, 0.75, 1.16]
    rows = [{"model": m, "task": t, "repeat": r, "images_per_s": v}
            for t, ratios in (("train", train), ("inference", infer)) for r, q in enumerate(ratios)
            for m, v in (("Simple CNN", 1000.0 * q), ("LeNet-5", 1000.0))]
    spread = et.ratio_spread(pd.DataFrame(rows), "Simple CNN", "LeNet-5")
    assert spread["train"] == pytest.approx((1.43, 2.12, 5)) and spread["inference"] == pytest.approx((0.75, 1.39, 5))
    text = et.speed_sentence({"train": 1.77, "inference": 1.06}, "Simple CNN", "LeNet-5", spread)
    assert "neither model classifies consistently faster (per-repeat ratios 0.75 to 1.39 over 5 repeats)" in text
    assert text.startswith("the Simple CNN trains 1.8 times as fast as LeNet-5 (median of 5 per-repeat ratios, 1.43 to 2.12), while")


def _summary(simple: tuple[float, float], lenet: tuple[float, float]) -> pd.DataFrame:
    """A cost benchmark's summary: (training, inference) median images/s per model."""
    rows = [{"model": m, "task": t, "median": v, "q25": v, "q75": v, "repeats": 5}
            for m, rates in (("Simple CNN", simple), ("LeNet-5", lenet))
            for t, v in zip(("train", "inference"), rates)]
    return pd.DataFrame(rows)


def test_the_inference_clause_names_the_models_that_classify_slower_than_they_train():
    both = et.inference_clause(_summary((28_000, 10_000), (13_000, 10_200)), "fused")
    assert both.startswith("both models classify fewer images per second than they train")
    assert "fused kernels" in both
    one = et.inference_clause(_summary((28_000, 10_000), (13_000, 13_001)), "pytorch")
    assert one.startswith("the Simple CNN classifies fewer images per second than it trains")
    assert "not profiled" in one and "fused" not in one
    lenet = et.inference_clause(_summary((9_000, 10_000), (13_000, 12_999)), "fused")
    assert lenet.startswith("LeNet-5 classifies") and "its training steps" in lenet  # a name: no article
    assert et.inference_clause(_summary((9_000, 10_000), (13_000, 13_000)), "fused") == ""  # equal: not fewer
