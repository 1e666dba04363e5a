"""fmnist_lib.paper.training_plots: the learning curves."""
import numpy as np
import pandas as pd

from fmnist_lib.paper.training_plots import plot_learning_curves


def test_learning_curves_draw_train_and_validation_per_model():
    h = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.6],
                      "train_acc": [0.6, 0.8, 0.9], "val_acc": [0.55, 0.75, 0.8]})
    fig = plot_learning_curves({"simple": h, "lenet": h.assign(val_acc=h["val_acc"] - 0.1)},
                               labels={"simple": "Simple CNN"})
    assert len(fig.axes) == 2 and all(len(ax.lines) == 4 for ax in fig.axes)
    loss, acc = fig.axes
    assert np.array_equal(acc.lines[1].get_ydata(), h["val_acc"]) and acc.lines[1].get_linestyle() == "--"
    assert [t.get_text() for t in acc.get_legend().get_texts()] == [
        "Simple CNN train", "Simple CNN val", "lenet train", "lenet val"]
