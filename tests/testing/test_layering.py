"""The side packages sit low in the layers: they import no model, no other package's private
module, and ``import causalppl`` does not pay for scipy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import causalppl

ROOT = Path(causalppl.__file__).parent
SIDE = ("identify", "metrics", "testing", "datasets")
MODELS = ("causalppl.mechanisms", "causalppl.scm", "causalppl.nn", "causalppl.models")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(absolute module, imported names)`` for every import in the file, lazy ones too."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out.append((module, [alias.name for alias in node.names]))
    return out


def _files(*packages):
    return [p for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py"))]


def _owner(module: str) -> str:
    """The subpackage (or top-level module) of causalppl that ``module`` belongs to."""
    parts = module.split(".")
    return ".".join(parts[:2])


@pytest.mark.parametrize("path", _files(*SIDE), ids=lambda p: _module_name(p))
def test_side_packages_import_no_model_and_no_private_module_of_another_package(path):
    me = _owner(_module_name(path))
    for module, names in _imports(path):
        if not module.startswith("causalppl"):
            continue
        assert not module.startswith(MODELS), f"{_module_name(path)} imports the model package {module}"
        if _owner(module) == me:
            continue
        private = [p for p in module.split(".") if p.startswith("_") and not p.startswith("__")]
        assert not private, f"{_module_name(path)} imports {module}, a private module of another package"
        hidden = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not hidden, f"{_module_name(path)} imports the private names {hidden} from {module}"


@pytest.mark.parametrize("path", _files("testing"), ids=lambda p: _module_name(p))
def test_testing_does_not_import_identify(path):
    for module, _ in _imports(path):
        assert not module.startswith("causalppl.identify"), f"{_module_name(path)} imports {module}"


def test_importing_the_library_does_not_load_scipy():
    code = "import causalppl, sys; assert 'scipy' not in sys.modules, 'scipy was imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent)
    assert done.returncode == 0, done.stderr[-2000:]
