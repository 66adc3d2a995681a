"""Every tutorial runs end to end in smoke mode; its own asserts are the checks.

Each tutorial runs in a fresh interpreter (as a user runs it) with ``CAUSALPPL_SMOKE=1``
and the same warning policy as the test suite: warnings are errors, except Pyro's own
deprecation notices.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

__all__: list[str] = []

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("[0-9]*.py"))

# Mirrors pyproject's filterwarnings, which do not reach a child interpreter.
BOOTSTRAP = """
import runpy, sys, warnings
warnings.filterwarnings("error")
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pyro\\.")
warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyro\\.")
warnings.filterwarnings("ignore", message=".*TorchScript.*", category=DeprecationWarning)
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def test_the_first_tutorials_exist():
    names = {p.name for p in TUTORIALS}
    assert {"01_first_scm.py", "02_counterfactuals.py"} <= names


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_smoke_mode(path: Path, tmp_path: Path):
    env = {**os.environ, "CAUSALPPL_SMOKE": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, str(path)],
        cwd=tmp_path,  # anything a tutorial writes lands outside the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"{path.name} failed (exit {proc.returncode})\n--- stdout (tail) ---\n{proc.stdout[-3000:]}"
        f"\n--- stderr (tail) ---\n{proc.stderr[-6000:]}"
    )


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_is_a_percent_format_notebook(path: Path):
    jupytext = pytest.importorskip("jupytext")
    notebook = jupytext.read(path)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown" and kinds[1:].count("markdown") >= 3 and "code" in kinds
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "percent"
    # The docs execute tutorials with this kernel.
    assert notebook.metadata["kernelspec"]["name"] == "python3"
