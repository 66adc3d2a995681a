"""`causalppl demo --quick` runs end to end and writes its outputs."""

import os

from causalppl.cli import main


def test_demo_quick(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "counterfactual" in out
    assert any(f.endswith(".nc") for f in os.listdir(tmp_path))
