"""fmnist_lib.paper.tuning_text: the sentences about chosen values on the grid's edge and diverged fits."""
import pytest

from fmnist_lib.paper.tuning_text import edge_sentence

GRID = {"lr": [3e-4, 1e-3, 3e-3], "batch_size": [32, 64, 128], "optimizer__weight_decay": [0.0, 1e-4]}


def test_edge_sentence_names_every_edge_value():
    best = {"simple": {"lr": 3e-3, "batch_size": 32, "optimizer__weight_decay": 1e-4},
            "lenet": {"lr": 1e-3, "batch_size": 64, "optimizer__weight_decay": 0.0}}
    text = edge_sentence(best, GRID, {"simple": "Simple CNN", "lenet": "LeNet-5"})
    assert "Simple CNN's learning rate (0.003) is the grid's highest" in text
    assert "Simple CNN's batch size (32) is the grid's lowest" in text
    assert "Simple CNN's weight decay (0.0001) is the grid's highest" in text
    assert "LeNet-5's learning rate" not in text
    # the edges a wider grid could move past, then weight decay 0, which none can
    moved, zero = text.split(" LeNet-5's weight decay (0, no decay) is the grid's lowest by construction")
    assert moved.endswith("A value on such an edge may mean the best value lies beyond the grid.")
    assert "LeNet-5" not in moved and zero.startswith(": no weight decay can be smaller")


# Synthetic grids, one per case: (chosen values, expected sentence).
WD = {"lr": [1e-3, 3e-3, 1e-2], "batch_size": [64], "optimizer__weight_decay": [0.0, 0.1, 0.3]}
ZERO = "(0, no decay), the grid's lowest by construction: no weight decay can be smaller, so the search did not stop short there."
BEYOND = "A value on such an edge may mean the best value lies beyond the grid."


@pytest.mark.parametrize("simple, lenet, expected", [
    # nothing on an edge (the fixed batch size is no edge)
    ((3e-3, 0.1), (3e-3, 0.1), "Every chosen value lies inside the grid, not on its edge."),
    # only weight decay 0 on the edge, for one model and for both: no "may lie beyond" clause
    ((3e-3, 0.0), (3e-3, 0.1), f"Every chosen value lies inside the grid except Simple CNN's weight decay {ZERO}"),
    ((3e-3, 0.0), (3e-3, 0.0),
     f"Every chosen value lies inside the grid except Simple CNN's and LeNet-5's weight decay {ZERO}"),
    # only edges a wider grid could move past: the learning rate's both ends, weight decay's top
    ((1e-2, 0.1), (1e-3, 0.3), "On the grid's edge: Simple CNN's learning rate (0.01) is the grid's highest; "
     f"LeNet-5's learning rate (0.001) is the grid's lowest; LeNet-5's weight decay (0.3) is the grid's highest. {BEYOND}"),
    # both kinds: the clause is said of the movable edge only, weight decay 0 after it
    ((1e-2, 0.0), (3e-3, 0.1), f"On the grid's edge: Simple CNN's learning rate (0.01) is the grid's highest. {BEYOND} "
     f"Simple CNN's weight decay {ZERO.replace('), the', ') is the')}"),
    ((1e-2, 0.0), (3e-3, 0.0), f"On the grid's edge: Simple CNN's learning rate (0.01) is the grid's highest. {BEYOND} "
     f"Simple CNN's and LeNet-5's weight decay {ZERO.replace('), the', ') are the')}"),
])
def test_edge_sentence_each_case(simple, lenet, expected):
    best = {name: {"lr": lr, "batch_size": 64, "optimizer__weight_decay": wd}
            for name, (lr, wd) in (("simple", simple), ("lenet", lenet))}
    # WD holds the batch size at one value: named as not searched after the edges
    assert edge_sentence(best, WD, {"simple": "Simple CNN", "lenet": "LeNet-5"}) == (
        expected + " Not searched: the batch size is fixed at 64.")


def test_edge_sentence_when_nothing_is_on_the_edge():
    best = {"m": {"lr": 1e-3, "batch_size": 64, "optimizer__weight_decay": 5e-5}}
    grid = {**GRID, "optimizer__weight_decay": [0.0, 5e-5, 1e-4]}
    assert edge_sentence(best, grid) == "Every chosen value lies inside the grid, not on its edge."


def test_edge_sentence_names_a_fixed_axis_as_not_searched():
    best = {"m": {"lr": 1e-3, "batch_size": 64, "optimizer__weight_decay": 5e-5}}
    grid = {"lr": [3e-4, 1e-3, 3e-3], "batch_size": [64], "optimizer__weight_decay": [0.0, 5e-5, 1e-4]}
    assert edge_sentence(best, grid) == ("Every chosen value lies inside the grid, not on its edge. "
                                         "Not searched: the batch size is fixed at 64.")
