"""The kernels benchmark runs end to end (quick sizes), and the roofline counts add up."""

import pytest

from causalppl.bench import kernels as bench
from causalppl.bench._kernels_gpu import gpu_sections
from causalppl.kernels import roofline


def test_quick_benchmark_writes_its_results_file(tmp_path):
    out = tmp_path / "kernels.md"
    bench.main(["--quick", "--out", str(out), "--repeat", "1"])
    text = out.read_text()
    for heading in ("## CPU: batched torch path", "## Roofline per shape", "## GPU"):
        assert heading in text
    assert "per-node nn.Linear loop" in text and "torch.func.vmap" in text


@pytest.mark.interpreter
@pytest.mark.slow
def test_gpu_section_code_runs_through_the_interpreter():
    text = gpu_sections(
        [(64, 4, 16)], bench.network, quick=True, device="cpu", backend_name="interpret", use_compile=False
    )
    assert "| (64, 4, 16) fwd+bwd | triton |" in text
    assert "| chain | 4 |" in text and "64 x (4, 16, 40) fwd | triton" in text


def test_counts_scale_as_the_formulas_say():
    small = roofline.mechanism_counts(100, [0, 1, 2, 3], (16,), 2, "tanh")
    big = roofline.mechanism_counts(200, [0, 1, 2, 3], (16,), 2, "tanh")
    train = roofline.mechanism_counts(100, [0, 1, 2, 3], (16,), 2, "tanh", backward=True)
    assert big["flops"] == 2 * small["flops"] and train["flops"] == 3 * small["flops"]
    # macs per row: (0+1+2+3)*16 first layers + 4*16*2 last layers
    assert small["flops"] == 2 * 100 * (6 * 16 + 4 * 32)
    # special: 2 per tanh element, softplus of the raw scale, log of the scale
    assert small["special"] == 100 * 4 * (2 * 16 + 2 + 1)
    relu = roofline.mechanism_counts(100, [0, 1, 2, 3], (16,), 2, "relu")
    assert relu["special"] == 100 * 4 * 3
    dec = roofline.decoder_counts(10, (2, 3, 5), "relu", None)
    assert dec["flops"] == 2 * 10 * (2 * 3 + 3 * 5)
    assert dec["bytes"] == 4 * (10 * (2 + 5) + (2 * 3 + 3 * 5) + 3 + 5)


def test_roofline_picks_the_binding_limit():
    gpu = roofline.H100_SXM
    assert roofline.roofline_seconds({"bytes": 1e9, "flops": 1, "special": 1}, gpu)["limit"] == "memory"
    assert roofline.roofline_seconds({"bytes": 1, "flops": 1e12, "special": 1}, gpu)["limit"] == "arithmetic"
    r = roofline.roofline_seconds({"bytes": 1, "flops": 1, "special": 1e10}, gpu)
    assert r["limit"] == "special functions" and r["seconds"] == pytest.approx(1e10 / gpu.special_per_s)
    assert roofline.gpu_spec("NVIDIA H200") is roofline.H200
    assert roofline.gpu_spec("NVIDIA H100 PCIe") is roofline.H100_PCIE
