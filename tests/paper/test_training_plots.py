import matplotlib
import pandas as pd

from fmnist_lib.paper.training_plots import plot_learning_curves

matplotlib.use("Agg")


def _history(offset):
    return pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.0 + offset, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.5 + offset],
                         "train_acc": [0.6, 0.8, 0.9 - offset], "val_acc": [0.55, 0.75, 0.85]})


def test_learning_curves_draw_each_history_train_solid_val_dashed():
    histories = {"simple": _history(0.0), "lenet": _history(0.05)}
    fig = plot_learning_curves(histories, labels={"simple": "Simple CNN", "lenet": "LeNet-5"})
    loss, acc = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["Cross-entropy loss", "Accuracy"]
    for ax, metric in ((loss, "loss"), (acc, "acc")):
        lines = {ln.get_label(): ln for ln in ax.lines}
        assert set(lines) == {"Simple CNN train", "Simple CNN val", "LeNet-5 train", "LeNet-5 val"}
        for name, label in (("simple", "Simple CNN"), ("lenet", "LeNet-5")):
            h = histories[name]
            assert list(lines[f"{label} train"].get_ydata()) == list(h[f"train_{metric}"])
            assert list(lines[f"{label} val"].get_ydata()) == list(h[f"val_{metric}"])
            assert lines[f"{label} train"].get_linestyle() == "-" and lines[f"{label} val"].get_linestyle() == "--"
            assert lines[f"{label} train"].get_color() == lines[f"{label} val"].get_color()
        assert lines["Simple CNN train"].get_color() != lines["LeNet-5 train"].get_color()
