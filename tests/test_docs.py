"""The documentation: the README example runs, the API page covers the public names, Sphinx builds."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import causalppl

__all__: list[str] = []

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _autosummary_entries(rst: str) -> set[str]:
    """Names listed in the autosummary tables of an rst file."""
    names: set[str] = set()
    for block in re.findall(r"\.\. autosummary::\n((?:[ \t]+.*\n|\n)+)", rst):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                names.add(line.lstrip("~"))
    return names


def test_api_page_lists_exactly_the_top_level_names():
    """docs/api.rst is hand-written; subpackages get generated pages (docs/conf.py), so a
    subpackage exported at the top level (``cp.metrics``) is not listed there."""
    expected = {n for n in causalppl.__all__ if not inspect.ismodule(getattr(causalppl, n))}
    listed = _autosummary_entries((DOCS / "api.rst").read_text())
    assert listed == expected, (
        f"docs/api.rst is out of date: missing {sorted(expected - listed)}, stale {sorted(listed - expected)}"
    )


def test_readme_example_runs_and_prints_what_it_says():
    """The README's example, run as a user would (fresh interpreter, default float32)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Example") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    printed = proc.stdout.splitlines()
    # What the README's comments promise, line by line.
    assert printed == [
        "[('x', 'h'), ('x', 'y'), ('h', 'y')]",
        "[('x', 'y'), ('h', 'y')]",
        "0.4",
        "exact",
        "1.9",
    ], printed


@pytest.mark.slow
def test_sphinx_build_is_clean(tmp_path: Path):
    """``sphinx-build -W`` (warnings are errors) with notebook execution off."""
    out = tmp_path / "html"
    env = {**os.environ, "CAUSALPPL_DOCS_EXECUTE": "off"}
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        str(DOCS),
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"sphinx-build failed\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    for tutorial in sorted((ROOT / "tutorials").glob("[0-9]*.py")):
        assert (out / "generated" / "tutorials" / f"{tutorial.stem}.html").is_file()
    for name in causalppl.__all__:
        if not inspect.ismodule(getattr(causalppl, name)):
            assert (out / "generated" / f"causalppl.{name}.html").is_file(), name
    for page in ("index", "tutorials", "design", "api"):
        assert (out / f"{page}.html").is_file()
