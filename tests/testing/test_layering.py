"""Two rules beside the import layers (tests/test_import_layers.py): the testing package does not
lean on the identifiability fitters, and ``import causalppl`` does not pay for scipy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import causalppl

ROOT = Path(causalppl.__file__).parent


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


@pytest.mark.parametrize("path", _files("testing"), ids=lambda p: _module_name(p))
def test_testing_does_not_import_identify(path):
    for module, _ in _imports(path):
        assert not module.startswith("causalppl.identify"), f"{_module_name(path)} imports {module}"


def test_importing_the_library_does_not_load_scipy():
    code = "import causalppl, sys; assert 'scipy' not in sys.modules, 'scipy was imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent)
    assert done.returncode == 0, done.stderr[-2000:]
