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


def append(package_dir, rel, text="\n_EDITED = 1  # an edit of code\n"):
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
    assert text.count("    history = pd.DataFrame(rows)\n") == 1  # a line inside fit
    path.write_text(text.replace("    history = pd.DataFrame(rows)\n", "    history = pd.DataFrame(rows)\n    _edited = 1\n"))
    registry.stage_source.cache_clear()
    registry.module_imports.cache_clear()
    assert changed(before, sources(package_copy)) >= {"run", "grid", "comparison", "gradcam"}


def _edit_docs(package_dir, rel):
    path = package_dir / rel
    text = path.read_text()
    first = text.index('"""') + 3
    path.write_text(text[:first] + "Docstring mended. " + text[first:] + "\n# a comment\n\n")


@pytest.mark.parametrize("rel", ["training.py", "pipeline/runs.py", "saliency/gradcam.py", "evaluation/stats.py"])
def test_a_docstring_or_comment_edit_rekeys_nothing(package_copy, rel):
    before = sources(package_copy)
    _edit_docs(package_copy, rel)
    registry.stage_source.cache_clear()
    assert changed(before, sources(package_copy)) == set()
    append(package_copy, rel)  # the same file's code edited: this check can fail
    registry.stage_source.cache_clear()
    assert changed(before, sources(package_copy))


def test_code_digest_sees_code_not_text(tmp_path):
    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text('"""Doc."""\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    b.write_text('"""Other doc."""\n\n\ndef f(x):  # comment\n    return x + 1\n')
    c.write_text('"""Doc."""\ndef f(x):\n    """Doc."""\n    return x + 2\n')
    assert registry.code_digest(a) == registry.code_digest(b) != registry.code_digest(c)
    d = tmp_path / "d.py"  # a function whose body is only its docstring still has a body
    d.write_text('def f():\n    """Doc."""\n')
    assert registry.code_digest(d) != registry.code_digest(a)


def test_an_edit_of_config_rekeys_no_source(package_copy):
    # its values key entries through the specs (pipeline/stages.py), not its source
    before = sources(package_copy)
    path = package_copy / "config.py"
    path.write_text(path.read_text().replace("agreement_images=1000", "agreement_images=900", 1))
    registry.stage_source.cache_clear()
    assert changed(before, sources(package_copy)) == set()


def test_computing_modules_take_only_types_and_lookups_from_config():
    import ast

    for module in sorted(registry.computing_modules() | {"fmnist_lib.pipeline.stages"}):
        path = registry._module_file(module, registry.PACKAGE_DIR)
        allowed = registry.CONFIG_EXTRA.get(module, frozenset())
        if allowed is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "config" \
                    and (node.level or node.module.startswith("fmnist_lib")):
                names = {a.name for a in node.names}
                bad = names - registry.CONFIG_NAMES - allowed
                assert not bad, (f"{module} imports {sorted(bad)} from config: pass the value in from "
                                 "pipeline/stages.py and put it in the stage's spec")


def test_the_guard_on_config_imports_can_fail(tmp_path):
    import ast

    tree = ast.parse("from ..config import EQUIVALENCE_MARGIN, Profile\n")
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert names - registry.CONFIG_NAMES == {"EQUIVALENCE_MARGIN"}


def test_the_grid_spec_carries_what_grid_search_takes_from_config():
    from fmnist_lib.config import DEFAULTS, get_profile
    from fmnist_lib.pipeline import stages

    spec = stages._grid_spec(get_profile("quick"), "lenet")
    assert spec["defaults"] == DEFAULTS and spec["grid"] == get_profile("quick").grid


# Profile settings that decide where or how fast work runs, or where it is stored, not what it is
NOT_RESULTS = {"n_jobs", "name"}


def _changed_value(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if value is None:
        return 1
    if isinstance(value, str):
        return "constant" if value == "cosine" else "cosine"
    if isinstance(value, dict):
        return {**value, "lr": [0.5]}
    raise TypeError(value)


@pytest.mark.parametrize("stage", sorted(registry.STAGES))
def test_every_profile_setting_a_stage_computes_with_is_in_its_spec(stage):
    # config.py is plumbing: a setting read by computing code must reach the key via the spec
    import dataclasses
    import re

    from fmnist_lib.config import DEFAULTS, get_profile
    from fmnist_lib.pipeline import stages
    from fmnist_lib.pipeline.runs import run_config, run_spec

    fields = {f.name for f in dataclasses.fields(get_profile("quick"))}
    read = set()
    for m in registry.stage_modules(stage):
        source = registry._module_file(m, registry.PACKAGE_DIR).read_text()
        read |= {x for x in re.findall(r"\b(?:p|profile)\.(\w+)", source) if x in fields}
    specs = {"grid": lambda p: stages._grid_spec(p, "lenet"),
             "run": lambda p: run_spec(p, "lenet", run_config(p, DEFAULTS, seed=0))}
    if stage not in specs:  # computed from runs: every setting it sees came through them
        assert read <= fields and all(m.split(".")[-1] != "grid_search" for m in registry.stage_modules(stage))
        stage = "run"
    base = get_profile("full")
    for field in sorted(read - NOT_RESULTS):
        other = dataclasses.replace(base, **{field: _changed_value(getattr(base, field))}) \
            if field != "grid_subset" else dataclasses.replace(base, grid_subset=500)
        assert specs[stage](other) != specs[stage](base), f"{field} is read by the {stage} stage but not in its spec"


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
