"""The benchmarks' ``--quick`` modes run end to end and write their results file."""

import pytest

from causalppl.bench import counterfactual, neural_scm


@pytest.mark.parametrize(
    ("bench", "argv", "expected"),
    [
        (
            counterfactual,
            [],
            ["cp.counterfactual (exact, full evidence)", "cp.counterfactual, importance", "cp.counterfactual, svi"],
        ),
        (neural_scm, ["--skip-dowhy", "--activations", "tanh"], ["Pyro trace ms", "causalppl NeuralSCM"]),
    ],
)
def test_quick_benchmark_writes_its_table(tmp_path, bench, argv, expected):
    out = tmp_path / "result.md"
    bench.main(["--quick", "--out", str(out), *argv])
    text = out.read_text()
    assert text.startswith("# ") and "- command: `causalppl bench" in text
    for line in expected:
        assert line in text
