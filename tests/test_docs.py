"""The documentation: the API page covers the public names, and Sphinx builds it cleanly."""

from __future__ import annotations

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
    listed = _autosummary_entries((DOCS / "api.rst").read_text())
    assert listed == set(causalppl.__all__), (
        f"docs/api.rst is out of date: missing {sorted(set(causalppl.__all__) - listed)}, "
        f"stale {sorted(listed - set(causalppl.__all__))}"
    )


@pytest.mark.slow
def test_sphinx_build_is_clean(tmp_path: Path):
    """``sphinx-build -W`` (warnings are errors) with notebook execution off."""
    out = tmp_path / "html"
    env = {**os.environ, "CAUSALPPL_DOCS_EXECUTE": "off"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
           "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"sphinx-build failed\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    for tutorial in sorted((ROOT / "tutorials").glob("[0-9]*.py")):
        assert (out / "generated" / "tutorials" / f"{tutorial.stem}.html").is_file()
    for name in causalppl.__all__:
        assert (out / "generated" / f"causalppl.{name}.html").is_file(), name
    for page in ("index", "tutorials", "design", "api"):
        assert (out / f"{page}.html").is_file()
