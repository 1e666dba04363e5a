"""Packaging: pyproject.toml declares what the library needs; requirements.txt pins it.

Every declared dependency (runtime and each optional group) must be pinned in the lock, at a
version its range allows, and every pin must belong to a declared group: ``pip install .``
then gives a library that imports, and ``make`` installs exactly what was tested.
"""
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:  # name==version, optionally with an environment marker
            req = Requirement(line)
            specs = list(req.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", \
                f"requirements.txt: {line!r} is not an exact pin (name==version)"
            out[canonical(req.name)] = specs[0].version
    return out


def declared() -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    for group in PROJECT["optional-dependencies"].values():
        reqs += [Requirement(r) for r in group if canonical(Requirement(r).name) != canonical(PROJECT["name"])]
    return reqs


def test_the_library_declares_its_runtime_dependencies():
    names = {canonical(Requirement(r).name) for r in PROJECT["dependencies"]}
    assert {"torch", "numpy", "pandas", "scikit-learn", "skorch", "matplotlib", "seaborn"} <= names
    assert set(PROJECT["optional-dependencies"]) >= {"cluster", "render", "test"}


def test_every_declared_dependency_is_pinned_inside_its_range():
    locked = pins()
    for req in declared():
        name = canonical(req.name)
        assert name in locked, f"{req} is declared in pyproject.toml but not pinned in requirements.txt"
        assert req.specifier.contains(locked[name], prereleases=True), \
            f"requirements.txt pins {name}=={locked[name]}, outside pyproject.toml's {req}"


def test_every_pin_is_declared():
    names = {canonical(r.name) for r in declared()}
    assert set(pins()) <= names, f"pinned but declared nowhere: {sorted(set(pins()) - names)}"
