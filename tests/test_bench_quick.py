"""The benchmarks' ``--quick`` modes run end to end and write their results file."""

import pytest

from causalppl.bench import counterfactual, cpu_paths, neural_scm


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


@pytest.mark.slow
def test_quick_cpu_paths_writes_every_part(tmp_path):
    out = tmp_path / "result.md"
    cpu_paths.main(["--quick", "--out", str(out), "--activations", "tanh"])
    text = out.read_text()
    for heading in ("blocked path vs reference", "inside whole queries", "Query-level caches", "in row blocks"):
        assert heading in text
    assert "| ConvDecoder | 32 | forward+backward |" in text and "| ConvEncoder | 8 | forward |" in text
