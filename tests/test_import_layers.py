"""Imports point down the layers, no package reaches into another's private module, and no
module reads torch's or Pyro's private attributes (every import counts, lazy ones too).

Layers, bottom to top: {errors, checks, rng, linalg} -> {graph, noise} -> handlers ->
program -> inference -> queries -> mechanisms -> scm -> nn -> models -> interpret. Beside
them sit datasets, metrics, identify and testing: they may import the core (errors ..
queries) and each other, never a model package. The kernels (``kernels/``, installed as
``causalppl.kernels``) import only themselves and ``causalppl.errors``. bench, cli, demo
and the package root are on top.
"""

import ast
import functools
from pathlib import Path

import pytest

import causalppl

ROOT = Path(causalppl.__file__).parent
KERNELS = ROOT.parent / "kernels"
CORE = [("errors", "checks", "rng", "linalg"), ("graph", "noise"), ("handlers",), ("program",), ("inference",)]
CORE += [("queries",)]
MODELS = [("mechanisms",), ("scm",), ("nn",), ("models",), ("interpret",)]
SIDE = ("datasets", "metrics", "identify", "testing")
TOP = ("bench", "cli", "demo", "")  # "": the package root, which re-exports the API
PRIVATE_ATTRIBUTES = {"_version", "_parameters", "_buffers", "_modules", "_pyro_name", "_cache_size", "_validate_args"}
LIBRARIES = ("torch", "pyro", "hypothesis")
LEVEL = {p: i for i, layer in enumerate(CORE + MODELS) for p in layer}


def _module_name(path: Path) -> str:
    if path.is_relative_to(KERNELS):
        parts = ("causalppl", "kernels", *path.relative_to(KERNELS).with_suffix("").parts)
    else:
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = sorted(ROOT.rglob("*.py")) + sorted(KERNELS.rglob("*.py"))
MODULES = {_module_name(p) for p in FILES}


def _imports(path: Path):
    """``(line, absolute module, imported names)`` for every import of a causalppl module;
    ``from package import module`` counts as importing that module."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names = [a.name for a in node.names]
            subs = [n for n in names if f"{module}.{n}" in MODULES]
            for n in subs:
                yield node.lineno, f"{module}.{n}", []
            if len(subs) < len(names):
                yield node.lineno, module, [n for n in names if n not in subs]


def _package(module: str) -> str:
    """The top-level package (or module) of causalppl that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _layer_error(me: str, other: str) -> str | None:
    """Why package ``me`` may not import package ``other`` (None when it may)."""
    unplaced = [p for p in (me, other) if p not in LEVEL and p not in SIDE and p not in TOP and p != "kernels"]
    if unplaced:
        return f"{unplaced[0]} is in no layer (place it in this test's layers)"
    if me == other or me in TOP:
        return None
    if me == "kernels":
        return None if other == "errors" else "the kernels import only themselves and causalppl.errors"
    if other == "kernels":
        return None
    if other in TOP:
        return f"{other} sits on top of the layers"
    if me in SIDE:
        if other in SIDE or LEVEL.get(other, 99) < len(CORE):
            return None
        return f"{me} sits beside the layers and imports no model package"
    if other in SIDE:
        return f"{other} sits beside the layers, not below {me}"
    if LEVEL[other] < LEVEL[me] or (LEVEL[other] == LEVEL[me] and LEVEL[me] < 2):
        return None  # (the two bottom layers hold several packages that may use each other)
    return f"{other} is not below {me}"


@functools.cache
def _cross_imports() -> tuple:
    """``(path, line, importer, module, names)`` of every import from another causalppl package."""
    return tuple(
        (path, line, _module_name(path), module, names)
        for path in FILES
        for line, module, names in _imports(path)
        if module.split(".")[0] == "causalppl" and _package(module) != _package(_module_name(path))
    )


@pytest.mark.parametrize("path", FILES, ids=_module_name)
def test_imports_point_down_the_layers(path):
    wrong = [
        f"line {line}: {me} imports {module}: {why}"
        for p, line, me, module, _ in _cross_imports()
        if p == path and (why := _layer_error(_package(me), _package(module)))
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", FILES, ids=_module_name)
def test_no_private_module_or_name_of_another_package_is_imported(path):
    wrong = []
    for p, line, me, module, names in _cross_imports():
        if p != path:
            continue
        if any(_private(part) for part in module.split(".")):
            wrong.append(f"line {line}: {me} imports {module}, a private module of another package")
        if any(_private(n) for n in names):
            wrong.append(f"line {line}: {me} imports the private names {names} from {module}")
    assert not wrong, "\n".join(wrong)


def test_packages_form_no_cycle():
    edges: dict[str, set[str]] = {}
    for _, _, me, module, _ in _cross_imports():
        edges.setdefault(_package(me), set()).add(_package(module))
    state: dict[str, str] = {}

    def visit(node, trail):
        if state.get(node) == "open":
            raise AssertionError("packages import each other in a cycle: " + " -> ".join(trail + [node]))
        if state.get(node) != "done":
            state[node] = "open"
            for nxt in sorted(edges.get(node, ())):
                visit(nxt, trail + [node])
            state[node] = "done"

    for node in sorted(edges):
        visit(node, [])


def _private_reads(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            yield node.lineno, f".{node.attr}"
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr", "setattr"):
            named = node.args[1] if len(node.args) > 1 else None
            if isinstance(named, ast.Constant) and named.value in PRIVATE_ATTRIBUTES:
                yield node.lineno, f"{node.func.id}(..., {named.value!r})"


@pytest.mark.parametrize("path", FILES, ids=_module_name)
def test_no_private_attribute_of_torch_or_pyro_is_read(path):
    found = [f"line {line}: {what}" for line, what in _private_reads(ast.parse(path.read_text(), str(path)))]
    assert not found, f"{_module_name(path)} reads private attributes: " + "; ".join(found)


def _private_library_uses(tree):
    """``torch._C``, ``from pyro.poutine.runtime import _PYRO_STACK`` and the like."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in LIBRARIES:
                yield node.lineno, f"{root.id}...{node.attr}"
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            for module in modules:
                if module.split(".")[0] in LIBRARIES and any(_private(p) for p in module.split(".") + names):
                    yield node.lineno, f"import of {module} {names}".rstrip(" []")


@pytest.mark.parametrize("path", FILES, ids=_module_name)
def test_no_private_module_of_torch_pyro_or_hypothesis_is_used(path):
    found = [f"line {line}: {what}" for line, what in _private_library_uses(ast.parse(path.read_text(), str(path)))]
    assert not found, f"{_module_name(path)} uses private parts of a library: " + "; ".join(found)


def test_the_checks_see_the_whole_package():
    """The walk finds the modules the checks are about (a wrong root would pass vacuously)."""
    assert {"causalppl.scm.fast", "causalppl.kernels.mechanism.reference", "causalppl.errors"} <= MODULES
    assert _layer_error("handlers", "scm") and not _layer_error("scm", "handlers")
    assert _layer_error("kernels", "mechanisms") and _layer_error("metrics", "nn") and not _layer_error("cli", "nn")
    caught = "import torch._dynamo\nfrom pyro.poutine.runtime import _PYRO_STACK\nx = torch._C.foo\ny = p._version"
    tree = ast.parse(caught)
    assert len(list(_private_library_uses(tree))) == 3 and len(list(_private_reads(tree))) == 1
