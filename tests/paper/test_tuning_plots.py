"""fmnist_lib.paper.tuning_plots: what the search's failures are called."""
import pandas as pd
import pytest

from fmnist_lib.paper.tuning_plots import failure_sentence, plot_cv_heatmaps


def table(scores: dict[tuple[float, float], float]) -> pd.DataFrame:
    rows = [(lr, wd, acc) for (lr, wd), acc in scores.items()]
    return pd.DataFrame({"lr": [r[0] for r in rows], "batch_size": 64, "weight_decay": [r[1] for r in rows],
                         "mean_cv_acc": [r[2] for r in rows],
                         "failed": [r[2] != r[2] for r in rows]})  # NaN: diverged


GOOD = {(1e-3, 0.0): 0.85, (1e-3, 0.1): 0.84, (1e-2, 0.0): 0.86, (1e-2, 0.1): 0.86}


def test_a_search_where_everything_learned():
    assert failure_sentence({"simple": table(GOOD)}) == (
        "No configuration diverged to a non-finite loss, and every configuration learned.")


def test_a_learning_rate_at_chance_is_named_with_its_model():
    # the full profile's LeNet-5: every weight decay at lr 0.03 scored 0.1000 (a constant prediction)
    lenet = table({**GOOD, (3e-2, 0.0): 0.1, (3e-2, 0.1): 0.1})
    text = failure_sentence({"simple": table(GOOD), "lenet": lenet})
    assert text == ("No configuration diverged to a non-finite loss. LeNet-5 did not learn at learning rate "
                    "0.03: all 2 weight decays scored at most 0.100 (chance is 0.100).")


def test_diverged_and_partly_failed_learning_rates_are_counted():
    t = table({**GOOD, (3e-2, 0.0): float("nan"), (3e-2, 0.1): 0.15, (3e-2, 0.3): 0.7})
    text = failure_sentence({"simple": t})
    assert text.startswith("One configuration diverged and was scored as failed. ")
    assert "Simple CNN did not learn at learning rate 0.03: 1 of its 2 configurations scored at most 0.150" in text
    two = table({(1e-3, 0.0): float("nan"), (1e-3, 0.1): float("nan"), (1e-2, 0.0): 0.9})
    assert failure_sentence({"simple": two}) == "2 configurations diverged and were scored as failed."


@pytest.mark.parametrize("score, named", [(0.2, True), (0.2001, False)])
def test_the_threshold_is_at_most_twice_chance(score, named):
    text = failure_sentence({"simple": table({**GOOD, (3e-2, 0.0): score})})
    assert ("did not learn" in text) is named


def test_heatmap_scale_spans_the_configurations_that_learned():
    # LeNet-5 of the full profile: every weight decay at lr 0.03 at chance (0.100)
    lenet = table({**GOOD, (3e-2, 0.0): 0.1, (3e-2, 0.1): 0.1})
    fig = plot_cv_heatmaps({"simple": table(GOOD), "lenet": lenet})
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2 and panels[0].get_position().y0 == panels[1].get_position().y0  # side by side
    assert panels[0].images[0].get_clim() == pytest.approx((0.84, 0.86))  # not stretched down to 0.1
    texts = [t.get_text() for t in panels[1].texts]
    assert texts.count("0.100\nchance") == 2 and len(panels[1].patches) == 2  # hatched and marked
    assert not any("chance" in t.get_text() for t in panels[0].texts)
