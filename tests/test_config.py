import subprocess
import sys

import pytest

from fmnist_lib.config import PARAM_GRID, PROFILES, TrainConfig, get_profile
from fmnist_lib.errors import ConfigError


def test_default_profile_is_full(monkeypatch):
    monkeypatch.delenv("FMNIST_PROFILE", raising=False)
    monkeypatch.delenv("QUARTO_PROFILE", raising=False)
    assert get_profile().name == "full"


def test_fmnist_profile_wins_over_quarto_profile(monkeypatch):
    monkeypatch.setenv("QUARTO_PROFILE", "full")
    monkeypatch.setenv("FMNIST_PROFILE", "quick")
    assert get_profile().name == "quick"


def test_quarto_profile_list_picks_the_known_name(monkeypatch):
    monkeypatch.delenv("FMNIST_PROFILE", raising=False)
    monkeypatch.setenv("QUARTO_PROFILE", "draft,quick")
    assert get_profile().name == "quick"


def test_unknown_profile_lists_valid_ones(monkeypatch):
    with pytest.raises(ValueError, match="Valid profiles: full, quick"):
        get_profile("fast")
    monkeypatch.setenv("FMNIST_PROFILE", "nope")
    with pytest.raises(ConfigError, match="^FMNIST_PROFILE=nope: no profile named 'nope'") as err:
        get_profile()
    assert isinstance(err.value, ValueError) and err.value.exit_code == 2


def test_full_profile_grid_holds_the_defaults_and_has_five_seeds():
    from fmnist_lib.config import DEFAULTS

    full = PROFILES["full"]
    assert full.grid is PARAM_GRID
    assert set(full.grid) == set(DEFAULTS) == {"lr", "batch_size", "optimizer__weight_decay"}
    for key in DEFAULTS:  # the defaults are a grid point: the fidelity check reuses their runs
        assert DEFAULTS[key] in full.grid[key]
    assert max(full.grid["lr"]) / min(full.grid["lr"]) >= 30  # at least a decade and a half
    assert len(full.grid["optimizer__weight_decay"]) >= 3 and max(full.grid["optimizer__weight_decay"]) > 0
    assert full.subset is None and len(full.seeds) >= 5
    assert full.grid_epochs < full.final_epochs  # the search is the final recipe, shortened
    assert full.short_epochs < full.final_epochs < full.check_epochs == 2 * full.final_epochs
    assert full.grid_splits >= 3 and full.runner_up_seeds >= 3
    quick = PROFILES["quick"]
    assert set(quick.grid) == set(full.grid) and len(quick.seeds) >= 2


@pytest.mark.parametrize("changes, what", [(dict(check_seeds=0), "check_seeds"),
                                           (dict(runner_up_seeds=9), "runner_up_seeds"),
                                           (dict(grid_splits=1), "grid_splits"),
                                           (dict(short_epochs=0), "short_epochs")])
def test_profile_rejects_bad_sizes(changes, what):
    import dataclasses

    with pytest.raises(ValueError, match=what):
        dataclasses.replace(PROFILES["quick"], **changes)


@pytest.mark.parametrize("kwargs", [dict(epochs=0), dict(batch_size=0), dict(lr=0.0),
                                    dict(weight_decay=-1.0), dict(patience=0),
                                    dict(lr_schedule="step")])
def test_train_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match="TrainConfig"):
        TrainConfig(**kwargs)


def test_cli_rejects_unknown_profile_before_any_work():
    out = subprocess.run([sys.executable, "-m", "fmnist_lib", "run", "--profile", "bogus"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("error: profile 'bogus': no such profile.")
    assert "Valid profiles: full, quick" in out.stderr and "Traceback" not in out.stderr
