"""The package's shape: one way of flow, no import cycle, computing code never imports paper/.

The imports are read from the source (imports inside functions included), so a lazy import
that closes a cycle fails here too.
"""
from fmnist_lib.pipeline import registry

MODULES = sorted({*registry.computing_modules(),
                  *(".".join(["fmnist_lib", *p.relative_to(registry.PACKAGE_DIR).with_suffix("").parts])
                    for p in registry.PACKAGE_DIR.rglob("*.py"))})
GRAPH = {m: registry.module_imports(m.removesuffix(".__init__")) - {m.removesuffix(".__init__")}
         for m in MODULES}


def test_no_import_cycle():
    graph = {m.removesuffix(".__init__"): deps for m, deps in GRAPH.items()}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_computing_code_never_imports_paper():
    for m in sorted(registry.computing_modules()):
        bad = {d for d in GRAPH[m] if d == "fmnist_lib.paper" or d.startswith("fmnist_lib.paper.")}
        assert not bad, f"{m} imports {sorted(bad)}: presentation belongs in paper/, computing code never imports it"


def test_subpackages_only_hold_modules_not_code():
    for path in registry.PACKAGE_DIR.rglob("__init__.py"):
        if path.parent != registry.PACKAGE_DIR:
            assert "def " not in path.read_text(), f"{path}: code belongs in a module, not in __init__"


def test_every_public_name_of_the_package_root_resolves():
    # the root re-exports lazily, so a name whose module lost it fails only when someone uses it
    import fmnist_lib

    missing = []
    for name in fmnist_lib.__all__:
        try:
            getattr(fmnist_lib, name)
        except AttributeError as e:
            missing.append(f"{name}: {e}")
    assert not missing, missing
