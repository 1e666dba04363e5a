"""fmnist_lib.tuning.search_space: where chosen values sit in the grid."""
import pytest

from fmnist_lib.tuning.search_space import grid_edges

GRID = {"lr": [3e-4, 1e-3, 3e-3], "batch_size": [32, 64, 128], "optimizer__weight_decay": [0.0, 1e-4]}


def test_grid_edges_each_position():
    best = {"lr": 3e-3, "batch_size": 64, "optimizer__weight_decay": 0.0}
    assert grid_edges(best, GRID) == {"lr": "highest", "batch_size": "interior",
                                      "optimizer__weight_decay": "lowest"}
    assert grid_edges({"lr": 1e-3}, {"lr": [1e-3]}) == {"lr": "only"}
    with pytest.raises(ValueError, match="batch_size"):
        grid_edges({"lr": 1e-3}, GRID)
