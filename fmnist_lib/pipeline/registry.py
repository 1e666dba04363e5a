"""The study's stages, each declared once: the store entry it writes, the entries it is
computed from, and the function that computes one entry. Keys follow from the declarations.

An entry is keyed by its spec and by :func:`stage_source`: a hash of the source of every
``fmnist_lib`` module that the stage's compute function can run (its module and, transitively,
every module of the package it imports, found by reading the source, imports inside functions
included) and of the entries it is computed from. So an edit under ``saliency/`` re-keys the
Grad-CAM entries only, an edit of ``training.fit`` re-keys the runs and everything computed
from them, and an edit under ``paper/`` re-keys nothing: no computing module imports it
(``tests/test_architecture.py`` checks this).

The source is hashed as code, not as text (:func:`code_digest`): its syntax tree without
docstrings, comments, blank lines or positions, so mending a docstring or a comment keeps every
stored result. ``config.py`` is plumbing: it holds values (profiles, grids, the margin), and each
value that a stage computes with enters that stage's spec, not its source hash; so editing one
profile's setting re-keys only the stages whose spec holds it (``tests/pipeline/test_registry.py``
checks that computing modules take no other names from it).

Nothing here imports torch or pandas: ``python -m fmnist_lib store list`` keys entries
without importing the code that computes them (``compute`` is a dotted name, resolved on use).
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["Stage", "STAGES", "PLUMBING", "stage", "stage_modules", "stage_source", "entry_source",
           "computing_modules", "module_imports", "closure", "code_digest", "CONFIG_NAMES", "CONFIG_EXTRA"]

PACKAGE = "fmnist_lib"
PACKAGE_DIR = Path(__file__).resolve().parents[1]

# Modules that decide where and whether work runs, never what it computes: importing them
# puts no source into a key (the store and its file formats, the cluster address, how worker
# processes stop, which runs train where, the error types, the version), and the settings,
# whose values enter the specs (CONFIG_NAMES: what computing modules may take from them).
PLUMBING = frozenset({"fmnist_lib.config", "fmnist_lib.errors", "fmnist_lib.pipeline.store",
                      "fmnist_lib.pipeline.store_files", "fmnist_lib.pipeline.store_admin",
                      "fmnist_lib.pipeline.cluster", "fmnist_lib.pipeline.workers",
                      "fmnist_lib.pipeline.registry", "fmnist_lib.pipeline.dispatch"})


# What a computing module may import from ``config``: types, the profile lookup and the
# machine's facts. A constant read directly would change results without changing a spec;
# constants reach computing code as arguments from pipeline/stages.py, which puts them in
# the spec. ``tuning.grid_search`` also takes DEFAULTS (its spec carries them).
CONFIG_NAMES = frozenset({"Profile", "TrainConfig", "get_profile", "cores", "project_root"})
CONFIG_EXTRA = {"fmnist_lib.tuning.grid_search": frozenset({"DEFAULTS"}),
                "fmnist_lib.pipeline.stages": None}  # None: any name (the loaders build the specs)


@dataclass(frozen=True)
class Stage:
    """One kind of stored result.

    Parameters
    ----------
    name : str
        The store entry's name (``results/<profile>/<name>-<key>/``).
    depends : tuple of str
        Entries whose stored results this one is computed from (their source enters its key;
        what they were computed with enters its spec).
    compute : str
        ``"module:function"`` computing one entry's items.
    loaders : tuple of str
        The functions of :mod:`fmnist_lib.pipeline.stages` that load (or compute) it, in the
        order ``run_all`` calls them.
    """

    name: str
    depends: tuple[str, ...]
    compute: str
    loaders: tuple[str, ...]

    def function(self) -> Callable:
        module, _, attr = self.compute.partition(":")
        return getattr(importlib.import_module(module), attr)


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("grid", (), "fmnist_lib.tuning.grid_search:grid_entry", ("grid_search",)),
    Stage("run", (), "fmnist_lib.pipeline.runs:train_run",
          ("all_runs", "baseline_results", "candidate_runs", "final_models", "short_runs", "runner_up_runs",
           "check_runs")),
    Stage("efficiency", (), "fmnist_lib.evaluation.benchmark:efficiency_entry", ("efficiency",)),
    Stage("comparison", ("run",), "fmnist_lib.evaluation.comparison:compare", ("comparison",)),
    Stage("verdicts", ("run",), "fmnist_lib.evaluation.verdicts:verdict_entry", ("verdicts",)),
    Stage("gradcam", ("run",), "fmnist_lib.saliency.study:gradcam_entry", ("gradcam_analysis",)),
    Stage("explorer", ("run",), "fmnist_lib.saliency.explorer:explorer_entry", ("explorer_maps",)),
)}


def stage(name: str) -> Stage:
    """The declared stage writing entries called ``name``.

    Raises
    ------
    KeyError
        Naming the declared stages.
    """
    try:
        return STAGES[name]
    except KeyError:
        raise KeyError(f"no stage writes entries named {name!r}; declared: {', '.join(STAGES)}") from None


def _module_file(module: str, package_dir: Path) -> Path | None:
    parts = module.split(".")[1:]
    path = package_dir.joinpath(*parts).with_suffix(".py") if parts else None
    if path is not None and path.is_file():
        return path
    init = package_dir.joinpath(*parts, "__init__.py")
    return init if init.is_file() else None


def _statements(tree: ast.Module):
    """Every statement of ``tree``, nested ones (in functions, classes, if/try/with) included;
    expressions are not entered (an import is a statement), which keeps ``store list`` fast."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            todo.extend(getattr(node, field, ()))


@functools.lru_cache(maxsize=None)
def module_imports(module: str, package_dir: Path = PACKAGE_DIR) -> frozenset[str]:
    """The ``fmnist_lib`` modules that ``module``'s source imports, anywhere in the file."""
    path = _module_file(module, package_dir)
    if path is None:
        raise ModuleNotFoundError(f"{module} has no source under {package_dir}")
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = set()
    for node in _statements(tree):
        if isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            target = base + (node.module.split(".") if node.module else [])
            if not target or target[0] != PACKAGE:
                continue
            for alias in node.names:  # "from .pkg import module" names a module, else the package
                sub = ".".join([*target, alias.name])
                out.add(sub if _module_file(sub, package_dir) else ".".join(target))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
    return frozenset(out)


def closure(module: str, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """``module`` and every module it imports, transitively, minus plumbing and package
    ``__init__`` files (they only re-export, lazily)."""
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen or m in PLUMBING:
            continue
        seen.add(m)
        todo += module_imports(m, package_dir)
    return {m for m in seen if _module_file(m, package_dir).name != "__init__.py"}


def stage_modules(name: str, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Every module whose source enters the key of the entries called ``name``."""
    s = stage(name)
    out = closure(s.compute.partition(":")[0], package_dir)
    for dep in s.depends:
        out |= stage_modules(dep, package_dir)
    return out


@functools.lru_cache(maxsize=None)
def stage_source(name: str, package_dir: Path = PACKAGE_DIR) -> str:
    """16 hex digits hashing the source of :func:`stage_modules` (paths and bytes)."""
    return _hash(stage_modules(name, package_dir), package_dir)


def computing_modules(package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Every module of the package but ``paper/``, ``__main__``, plumbing and ``__init__`` files."""
    out = set()
    for path in package_dir.rglob("*.py"):
        rel = path.relative_to(package_dir).with_suffix("")
        module = ".".join([PACKAGE, *rel.parts])
        if rel.parts[0] not in ("paper", "__main__") and rel.name != "__init__" and module not in PLUMBING:
            out.add(module)
    return out


@functools.lru_cache(maxsize=None)
def entry_source(name: str, package_dir: Path = PACKAGE_DIR) -> str:
    """The source hash in the key of entries called ``name``: :func:`stage_source` for a
    declared stage; for any other name (an ad-hoc entry) the source of all computing modules."""
    if name in STAGES:
        return stage_source(name, package_dir)
    return _hash(computing_modules(package_dir), package_dir)


class _Docstrings(ast.NodeTransformer):
    """Drops the docstring of the module, of each class and of each function."""

    def _strip(self, node):
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _strip


def code_digest(path: Path) -> bytes:
    """SHA-256 of ``path``'s code: its syntax tree without docstrings (comments, blank lines and
    line numbers are not in a tree). Two files differing only there hash alike; any change to
    what runs (a name, a constant, an argument, a statement) changes the digest. The tree's
    dump follows the Python version, so a store is keyed per Python minor version."""
    data = path.read_bytes()
    return _digest(data, str(path))


@functools.lru_cache(maxsize=256)
def _digest(data: bytes, filename: str) -> bytes:
    tree = _Docstrings().visit(ast.parse(data, filename=filename))
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).digest()


def _hash(modules: set[str], package_dir: Path) -> str:
    h = hashlib.sha256()
    for module in sorted(modules):
        path = _module_file(module, package_dir)
        h.update(path.relative_to(package_dir).as_posix().encode())
        h.update(code_digest(path))
    return h.hexdigest()[:16]
