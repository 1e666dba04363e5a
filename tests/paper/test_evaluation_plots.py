"""evaluation_plots: the right panels, titles, numbers and colour scales on synthetic data."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from fmnist_lib.paper import evaluation_plots as ep
from fmnist_lib.evaluation import metrics
from fmnist_lib.evaluation import stats
from fmnist_lib.data import CLASSES


def probas_for(y, strength, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(y), 10))
    logits[np.arange(len(y)), y] += strength
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


@pytest.fixture
def data():
    y = np.repeat(np.arange(10), 30)
    return y, {"simple": probas_for(y, 1.5, 1), "lenet": probas_for(y, 3.0, 2)}


def test_confusion_matrices_show_both_models_and_the_difference(data):
    y, probas = data
    preds = {"Simple CNN": probas["simple"].argmax(1), "LeNet-5": probas["lenet"].argmax(1)}
    fig = ep.plot_confusion_matrices(y, preds)
    heatmaps = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heatmaps] == [
        "Simple CNN", "LeNet-5", "LeNet-5 − Simple CNN (errors)"]
    for ax in heatmaps:
        assert [t.get_text() for t in ax.get_yticklabels()] == list(CLASSES)
        assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASSES)
    diff = heatmaps[2].collections[0]
    expected = 100 * (metrics.confusion(y, preds["LeNet-5"], "true")
                      - metrics.confusion(y, preds["Simple CNN"], "true"))
    shown = np.ma.asarray(diff.get_array()).reshape(10, 10)
    off = ~np.eye(10, dtype=bool)
    # errors only: the diagonal (where red would mean *fewer* errors) is masked
    assert shown.mask[~off].all() and not np.ma.getmaskarray(shown)[off].any()
    np.testing.assert_allclose(shown.data[off], expected[off])
    cells = [t.get_text() for t in heatmaps[2].texts if t.get_text()]  # one decimal, as the text quotes them
    assert cells and all(c.count(".") == 1 and len(c.split(".")[1]) == 1 for c in cells)
    assert len(cells) == int((np.round(expected[off], 1) != 0).sum())
    assert diff.norm.vmin == pytest.approx(-diff.norm.vmax)  # diverging, centred at 0
    red, neutral, blue = diff.get_cmap()(diff.norm([diff.norm.vmax, 0.0, diff.norm.vmin]))
    assert red[0] > 2 * red[2] and blue[2] > 2 * blue[0]  # LeNet-5 more: red; less: blue
    assert min(neutral[:3]) > 0.85  # zero is (near) white
    row = np.asarray(heatmaps[0].collections[0].get_array()).reshape(10, 10)
    np.testing.assert_allclose(row.sum(1), 100.0)


def test_confusion_colour_bars_are_lettered_as_the_axes(data):
    """Each colour bar's ticks and label have the size of its heatmap's ticks and labels (at
    matplotlib's default they were 10 pt beside the axes' 7 and 8 pt)."""
    y, probas = data
    fig = ep.plot_confusion_matrices(y, {k: p.argmax(1) for k, p in probas.items()})
    heatmaps = [ax for ax in fig.axes if ax.get_title()]
    for ax in heatmaps:
        bar = ax.collections[0].colorbar.ax
        tick = {t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels()}
        bar_tick = {t.get_fontsize() for t in bar.get_yticklabels()}
        assert len(tick) == 1 and bar_tick == tick
        assert bar.yaxis.label.get_fontsize() == ax.xaxis.label.get_fontsize() == ax.yaxis.label.get_fontsize()


def test_confusion_counts_and_order_independence(data):
    y, probas = data
    preds = {"lenet": probas["lenet"].argmax(1), "simple": probas["simple"].argmax(1)}
    fig = ep.plot_confusion_matrices(y, preds, normalize=False)
    heatmaps = [ax for ax in fig.axes if ax.get_title()]
    assert heatmaps[2].get_title() == "LeNet-5 − Simple CNN (errors)"
    assert heatmaps[2].collections[0].colorbar.ax.get_ylabel().startswith("images")
    counts = np.asarray(heatmaps[1].collections[0].get_array()).reshape(10, 10)
    np.testing.assert_array_equal(counts, metrics.confusion(y, preds["lenet"]))


def test_reliability_has_ece_in_the_legend(data):
    y, probas = data
    fig = ep.plot_reliability(y, probas)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    for name, label in (("simple", "Simple CNN"), ("lenet", "LeNet-5")):
        ece = stats.expected_calibration_error(y, probas[name])
        assert f"{label} (ECE {ece:.4f})" in labels


def test_confident_mistakes_rows_per_model_with_true_and_predicted(data):
    y, probas = data
    X = np.random.default_rng(0).normal(size=(len(y), 1, 28, 28))
    X0 = X.copy()
    fig = ep.plot_confident_mistakes(X, y, probas, k=4)
    assert len(fig.axes) == 8
    for row, name in enumerate(("simple", "lenet")):
        idx = metrics.most_confident_mistakes(y, probas[name], k=4)
        for ax, i in zip(fig.axes[4 * row:4 * row + 4], idx):
            pred = probas[name][i].argmax()
            assert ax.get_title() == (f"true: {CLASSES[y[i]]}\npred: {CLASSES[pred]}\n"
                                      f"p = {probas[name][i, pred]:.3f}")
            np.testing.assert_allclose(ax.images[0].get_array(), X[i, 0])
    assert fig.axes[0].get_ylabel() == "Simple CNN" and fig.axes[4].get_ylabel() == "LeNet-5"
    np.testing.assert_array_equal(X, X0)


def test_plots_reject_bad_input(data):
    y, probas = data
    with pytest.raises(ValueError, match="sum to 1"):
        ep.plot_reliability(y, {"simple": 0.5 * probas["simple"]})
    with pytest.raises(ValueError, match="Length mismatch"):
        ep.plot_confusion_matrices(y[:-1], {k: p.argmax(1) for k, p in probas.items()})
    with pytest.raises(ValueError, match="images"):
        ep.plot_confident_mistakes(np.zeros((len(y), 3, 28, 28)), y, probas)
    with pytest.raises(ValueError, match="Length mismatch"):
        ep.plot_confident_mistakes(np.zeros((len(y) - 1, 28, 28)), y, probas)


