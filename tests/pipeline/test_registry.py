"""fmnist_lib.pipeline.registry: each stage keyed by the source of the code it runs.

The edits are made to a copy of the package, so the checks read real source files: an edit
under saliency/ or paper/ must leave the runs' and the grid's keys alone, an edit of
``training.fit`` must re-key the runs and everything computed from them.
"""
import shutil

import pytest

from fmnist_lib.pipeline import registry
from fmnist_lib.pipeline import store as store_mod
from fmnist_lib.pipeline.store import ResultStore


@pytest.fixture
def package_copy(tmp_path):
    dest = tmp_path / "fmnist_lib"
    shutil.copytree(registry.PACKAGE_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def sources(package_dir):
    return {name: registry.stage_source(name, package_dir) for name in registry.STAGES}


def append(package_dir, rel, text="\n# an edit\n"):
    with open(package_dir / rel, "a") as f:
        f.write(text)


def changed(before, after):
    return {name for name in before if before[name] != after[name]}


def test_a_copy_hashes_like_the_package(package_copy):
    assert sources(package_copy) == sources(registry.PACKAGE_DIR)


@pytest.mark.parametrize("rel, expected", [
    ("saliency/gradcam.py", {"gradcam", "explorer"}),
    ("saliency/explorer.py", {"explorer"}),
    ("saliency/agreement.py", {"gradcam"}),
    ("evaluation/equivalence.py", {"comparison", "verdicts", "explorer"}),  # the explorer's seed ensembles
    ("evaluation/verdicts.py", {"verdicts", "comparison"}),  # the comparison's seed ensembles use it
    ("evaluation/perclass.py", {"comparison"}),
    ("evaluation/fidelity.py", set()),     # computed on the fly from stored runs, never stored
    ("paper/budgets.py", set()),
    ("paper/perclass_plots.py", set()),
    ("paper/report.py", set()),
    ("paper/summary.py", set()),
    ("paper/explorer_view.py", set()),
    ("paper/tuning_plots.py", set()),
    ("pipeline/store.py", set()),      # where results live, not what they are
    ("pipeline/cluster.py", set()),    # where the grid search runs
    ("pipeline/dispatch.py", set()),   # which runs train, and where
    ("__main__.py", set()),
    ("tuning/grid_search.py", {"grid"}),
    ("pipeline/runs.py", {"run", "comparison", "verdicts", "gradcam", "explorer"}),
])
def test_an_edit_rekeys_only_the_stages_that_run_it(package_copy, rel, expected):
    before = sources(package_copy)
    append(package_copy, rel)
    registry.stage_source.cache_clear()
    registry.module_imports.cache_clear()
    assert changed(before, sources(package_copy)) == expected


def test_an_edit_of_fit_retrains(package_copy):
    before = sources(package_copy)
    path = package_copy / "training.py"
    text = path.read_text()
    assert "def fit(" in text
    path.write_text(text.replace("def fit(", "def fit(  # edited\n        ", 1))
    registry.stage_source.cache_clear()
    registry.module_imports.cache_clear()
    assert changed(before, sources(package_copy)) >= {"run", "grid", "comparison", "gradcam"}


def test_the_results_table_of_the_grid_is_in_the_grid_key():
    # the stale-grid bug: results_table lived in a presentation module left out of the key
    assert "fmnist_lib.tuning.grid_search" in registry.stage_modules("grid")
    assert not any(m.startswith("fmnist_lib.paper") for name in registry.STAGES
                   for m in registry.stage_modules(name))


def test_store_keys_follow_the_stage_source(tmp_path, monkeypatch):
    s = ResultStore(tmp_path)
    run, grid = s.key("run", {"seed": 0}), s.key("grid", {"seed": 0})
    real = store_mod.entry_source
    monkeypatch.setattr(store_mod, "entry_source", lambda name: "0" * 16 if name == "gradcam" else real(name))
    assert s.key("run", {"seed": 0}) == run and s.key("grid", {"seed": 0}) == grid
    assert s.key("gradcam", {"seed": 0}) != ResultStore(tmp_path).key("comparison", {"seed": 0})
    monkeypatch.setattr(store_mod, "entry_source", lambda name: "1" * 16)
    assert s.key("run", {"seed": 0}) != run


def test_every_stage_names_a_function_and_known_dependencies():
    for name, stage in registry.STAGES.items():
        assert stage.name == name and callable(stage.function())
        assert set(stage.depends) <= set(registry.STAGES), stage
    with pytest.raises(KeyError, match="declared: grid, run"):
        registry.stage("final")
