"""fmnist_lib.paper.perclass_plots: ROC panels with both models on a log axis, and sentences that read
both directions and follow the intervals."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fmnist_lib.data import CLASSES
from fmnist_lib.paper import perclass_plots as perclass
from synthetic import probas


def test_roc_panels_have_ten_classes_both_models_every_seed_and_a_log_axis():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 600)
    fig = perclass.plot_roc_panels(y, {"simple": [probas(y, 1.5, rng) for _ in range(2)],
                                       "lenet": [probas(y, 1.0, rng) for _ in range(2)]})
    axes = fig.axes
    assert len(axes) == 10 and [a.get_title() for a in axes] == list(CLASSES)
    for ax in axes:
        assert ax.get_xscale() == "log"
        colours = [line.get_color() for line in ax.lines[1:]]  # the first line is chance
        assert colours.count("C0") == 2 and colours.count("C1") == 2
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Simple CNN", "LeNet-5"]
    plt.close(fig)


def errors(diffs, lows, highs):
    return pd.DataFrame({"class": list(CLASSES[:len(diffs)]), "images": 1000, "error_a": 0.1,
                         "error_b": 0.1 + np.array(diffs), "difference": diffs, "low": lows, "high": highs,
                         "low_bonf": np.array(lows) - 0.01, "high_bonf": np.array(highs) + 0.01,
                         "seeds_b_lower": 2, "seeds": 5})


def test_class_error_sentence_reads_both_directions_and_follows_the_intervals():
    noise = errors([0.02, -0.01, 0.005], [-0.005, -0.03, -0.01], [0.045, 0.01, 0.02])
    text = perclass.class_error_sentence(noise)
    assert "LeNet-5 errs more on T-shirt/top (+2.0 pp [-0.5, +4.5]), Pullover" in text
    assert "Simple CNN errs more on Trouser (-1.0 pp [-3.0, +1.0])" in text
    assert "no class's 95 % interval excludes 0" in text
    sig = perclass.class_error_sentence(errors([0.03, -0.01], [0.012, -0.03], [0.05, 0.01]))
    assert "the 95 % interval excludes 0 for T-shirt/top" in sig and "1 of them also after a Bonferroni" in sig
    one_way = perclass.class_error_sentence(errors([0.03, 0.01], [0.001, -0.03], [0.05, 0.04]))
    assert "Simple CNN errs more on no class" in one_way
    # a class outside the three named each way keeps its direction where its interval excludes 0
    both = perclass.class_error_sentence(errors([0.03, -0.04, -0.03, -0.02, -0.005], [0.01, -0.06, -0.05, -0.04, -0.009],
                                                [0.05, -0.02, -0.01, 0.001, -0.001]))
    assert ("the 95 % interval excludes 0 for T-shirt/top (LeNet-5 errs more) and for Trouser, Pullover and "
            "Coat (Simple CNN errs more); ") in both
    assert "Simple CNN errs more on Trouser (-4.0 pp" in both and "Coat (-0.5" not in both.split(";")[1]


def confusions(rows):
    return pd.DataFrame(rows, columns=["true", "predicted", "difference", "low", "high"]).assign(
        rate_a=0.05, rate_b=0.05, seeds_b_more=3, seeds=5)


def test_confusion_sentence_names_both_models_larger_confusions():
    table = confusions([("T-shirt/top", "Shirt", 0.021, -0.004, 0.046), ("Shirt", "Pullover", -0.03, -0.05, -0.01),
                        ("Coat", "Pullover", 0.018, -0.01, 0.04)])
    text = perclass.confusion_sentence(table, k=2)
    assert "LeNet-5 makes more of T-shirt/top → Shirt (+2.1 pp [-0.4, +4.6]), Coat → Pullover (+1.8 pp" in text
    assert "Simple CNN makes more of Shirt → Pullover (-3.0 pp [-5.0, -1.0])" in text
    # 1 of 3 below 0.05 each: P(>= 1) = 1 - 0.95**3 = 0.143, as many as chance gives
    assert ("the 95 % interval excludes 0 for 1 of the 3 confusions compared (Shirt → Pullover), about as many "
            "as chance gives (0.2 expected, P(≥ 1) = 0.14), so none of them is read") in text
    quiet = perclass.confusion_sentence(confusions([("Shirt", "Coat", 0.01, -0.01, 0.03)]))
    assert "Simple CNN makes no confusion more often" in quiet and "no confusion's interval excludes 0" in quiet
    # an interval excluding 0 among those not named (k=1) is still counted; 3 of 4 is more than chance
    many = confusions([("A", "B", 0.03, 0.01, 0.05), ("C", "D", 0.02, 0.01, 0.03), ("E", "F", -0.01, -0.02, -0.005),
                       ("G", "H", 0.001, -0.01, 0.01)])
    text = perclass.confusion_sentence(many, k=1)
    assert "excludes 0 for 3 of the 4 confusions compared (A → B, C → D, E → F), more than chance gives" in text


def test_auc_sentence_counts_seed_pairs_in_the_leading_direction():
    table = pd.DataFrame({"class": ["Shirt", "Bag"], "difference": [0.004, -0.001], "low": [-0.001, -0.003],
                          "high": [0.009, 0.001], "pairs_b_higher": [21, 8], "pairs": 25})
    text = perclass.auc_sentence(table)
    assert "LeNet-5's AUC is higher on Shirt (0.0040, in 21 of 25 seed pairs)" in text
    assert "Simple CNN's AUC is higher on Bag (0.0010, in 17 of 25 seed pairs)" in text
    assert text.endswith("no class's 95 % interval of the difference excludes 0")
    level = perclass.auc_sentence(table.assign(difference=[0.004, -0.00004]))  # rounds to 0.0000: level
    assert "Simple CNN's AUC is higher on no class" in level and "Bag" not in level


def test_auc_sentence_states_the_bonferroni_result_and_the_summary_names_the_classes():
    table = pd.DataFrame({"class": ["Shirt", "Coat", "Bag"], "difference": [0.009, 0.003, -0.001],
                          "low": [0.006, 0.001, -0.003], "high": [0.012, 0.005, 0.001],
                          "low_bonf": [0.005, -0.0005, -0.004], "high_bonf": [0.013, 0.006, 0.002],
                          "pairs_b_higher": [25, 25, 8], "pairs": 25})
    text = perclass.auc_sentence(table)
    assert text.endswith("the 95 % interval excludes 0 for Shirt, Coat and includes it for every other class; "
                         "the Bonferroni interval excludes 0 for 1 of them (Shirt)")
    assert perclass.auc_summary(table) == ("by the Bonferroni intervals of the difference, LeNet-5's AUC is higher "
                                           "on Shirt, Simple CNN's on none")
    both = table.assign(low_bonf=[0.005, 0.0005, -0.004])
    assert perclass.auc_sentence(both).endswith("the Bonferroni interval excludes 0 for all 2 of them as well")
    assert perclass.auc_summary(both).endswith("LeNet-5's AUC is higher on Shirt and Coat, Simple CNN's on none")
    none = table.assign(low_bonf=-0.01)
    assert perclass.auc_summary(none).startswith("no class's AUC differs between the models")


def test_calibration_seed_sentence_counts_seeds():
    per = pd.DataFrame({"model": ["Simple CNN"] * 3 + ["LeNet-5"] * 3, "seed": [0, 1, 2] * 2,
                        "ECE": [0.01, 0.02, 0.01, 0.02, 0.01, 0.03], "ECE scaled": [0.01] * 3 + [0.02] * 3,
                        "NLL scaled": [0.3, 0.3, 0.3, 0.3, 0.3, 0.3]})
    text = perclass.calibration_seed_sentence(per)
    assert "Simple CNN has the lower ECE before scaling in 2 of 3 seeds" in text
    assert "Simple CNN has the lower ECE after temperature scaling in every seed" in text
    assert "LeNet-5 has the lower NLL after scaling" not in text and "in 0 of 3 seeds" not in text


def test_pooled_seeds_stack_predictions_and_repeat_labels():
    y = np.arange(10)
    p = [np.eye(10), np.eye(10)[::-1]]
    yy, pooled = perclass.pooled_seeds(y, {"simple": p, "lenet": p})
    assert yy.tolist() == list(range(10)) * 2 and pooled["simple"].shape == (20, 10)
