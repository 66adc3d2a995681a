"""Every kernel variant compiles for sm_90 (H100/H200) on a CPU-only machine, fits in shared
memory, and the configurations the launchers pick do not spill registers.

Slow: each compile runs Triton's full pipeline and ptxas (seconds), in a fresh process.
"""

import pytest

from causalppl.kernels import aot

pytestmark = pytest.mark.slow

MECHANISMS = [
    {"hidden": [], "outputs": 2, "activation": "tanh"},
    {"hidden": [16], "outputs": 1, "activation": "relu"},
    {"hidden": [64], "outputs": 2, "activation": "silu"},
    {"hidden": [128], "outputs": 1, "activation": "tanh"},
    {"hidden": [64, 64], "outputs": 2, "activation": "tanh"},
    {"hidden": [64, 32], "outputs": 1, "activation": "silu"},
    {"hidden": [256], "outputs": 1, "activation": "relu"},
]
DECODERS = [
    {"widths": [16, 256, 256, 784], "activation": "silu", "out_activation": "sigmoid"},
    {"widths": [8, 128, 4096], "activation": "relu", "out_activation": None},
    {"widths": [3, 5, 7], "activation": "tanh", "out_activation": "tanh"},
]


def test_every_kernel_compiles_for_sm90():
    specs = [{"kind": "mechanism", "nodes": 20, "max_parents": 3, **m} for m in MECHANISMS]
    specs += [{"kind": "decoder", **d} for d in DECODERS]
    rows = aot.report(specs)
    mechanism_kernels = [
        "_forward_kernel",
        "_backward_kernel",
        "_backward_kernel",
        "_sample_dag_kernel",
        "_sample_level_kernel",
    ]
    for spec in specs:
        mine = [r for r in rows if r["spec"] == spec]
        names = [r["kernel"] for r in mine]
        if spec["kind"] == "mechanism":
            assert names == mechanism_kernels
        else:
            assert names == ["_linear_kernel"] * (3 * (len(spec["widths"]) - 1))
        assert all(0 < r["registers"] <= 255 for r in mine), mine
        assert all(r["shared_bytes"] <= 227 * 1024 for r in mine), mine
        # spill-free everywhere but the widest single hidden layer's backward (NOTES.md)
        allowed = 64 if spec.get("hidden") == [256] else 0
        assert all(r["spill_bytes"] <= allowed for r in mine), mine
