"""fmnist_lib.paper.tuning_text: the sentences about chosen values on the grid's edge and diverged fits."""
import pytest

from fmnist_lib.paper.tuning_text import diverged_sentence, edge_sentence

GRID = {"lr": [3e-4, 1e-3, 3e-3], "batch_size": [32, 64, 128], "optimizer__weight_decay": [0.0, 1e-4]}


def test_edge_sentence_names_every_edge_value():
    best = {"simple": {"lr": 3e-3, "batch_size": 32, "optimizer__weight_decay": 1e-4},
            "lenet": {"lr": 1e-3, "batch_size": 64, "optimizer__weight_decay": 0.0}}
    text = edge_sentence(best, GRID, {"simple": "Simple CNN", "lenet": "LeNet-5"})
    assert "Simple CNN's learning rate (0.003) is the grid's highest" in text
    assert "Simple CNN's batch size (32) is the grid's lowest" in text
    assert "Simple CNN's weight decay (0.0001) is the grid's highest" in text
    assert "LeNet-5's weight decay" in text and "smallest possible value" in text
    assert "LeNet-5's learning rate" not in text


def test_edge_sentence_when_nothing_is_on_the_edge():
    best = {"m": {"lr": 1e-3, "batch_size": 64, "optimizer__weight_decay": 5e-5}}
    grid = {**GRID, "optimizer__weight_decay": [0.0, 5e-5, 1e-4]}
    assert edge_sentence(best, grid) == "Every chosen value lies inside the grid, not on its edge."


@pytest.mark.parametrize("n, text", [(0, "No configuration diverged."),
                                     (1, "One configuration diverged and was scored as failed."),
                                     (3, "3 configurations diverged and were scored as failed.")])
def test_diverged_sentence_counts_without_plural_brackets(n, text):
    assert diverged_sentence(n) == text and "(s)" not in diverged_sentence(n)


def test_diverged_sentence_rejects_a_negative_count():
    with pytest.raises(ValueError):
        diverged_sentence(-1)
