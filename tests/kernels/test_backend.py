"""Backend selection: one environment variable, a context manager, one module per mode."""

import os

import pytest
import torch

from causalppl.errors import CausalError
from causalppl.kernels import _backend, backend, precision, use_backend


def test_default_follows_cuda(monkeypatch):
    monkeypatch.delenv("CAUSALPPL_KERNELS", raising=False)
    assert backend() == ("triton" if torch.cuda.is_available() else "torch")


@pytest.mark.parametrize("value", ["torch", "triton", "interpret", " Torch "])
def test_variable_selects_backend(monkeypatch, value):
    monkeypatch.setenv("CAUSALPPL_KERNELS", value)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert backend() == value.strip().lower()
    if value == "interpret" and _backend.process_mode() != "compiled":
        assert os.environ["TRITON_INTERPRET"] == "1"  # set up as soon as it is chosen


def test_invalid_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("CAUSALPPL_KERNELS", "cuda")
    with pytest.raises(CausalError, match="CAUSALPPL_KERNELS='cuda'"):
        backend()
    monkeypatch.setenv("CAUSALPPL_KERNELS_PRECISION", "fp8")
    with pytest.raises(CausalError, match="CAUSALPPL_KERNELS_PRECISION='fp8'"):
        precision()
    with pytest.raises(CausalError, match="backend='gpu'"), use_backend("gpu"):
        pass


def test_use_backend_nests(monkeypatch):
    monkeypatch.setenv("CAUSALPPL_KERNELS", "torch")
    with use_backend("interpret"):
        assert backend() == "interpret"
        with use_backend("torch"):
            assert backend() == "torch"
        assert backend() == "interpret"
    assert backend() == "torch"


@pytest.mark.interpreter
def test_a_process_runs_triton_in_one_mode():
    with use_backend("interpret"):
        module = _backend.triton_module("mechanism/triton.py", interpret=True)
    assert module.INTERPRETED and _backend.process_mode() == "interpret"
    assert module is _backend.triton_module("mechanism/triton.py", interpret=True)
    assert type(module._forward_kernel).__name__ == "InterpretedFunction"
    with pytest.raises(CausalError, match="start the process without TRITON_INTERPRET"):
        _backend.triton_module("mechanism/triton.py", interpret=False)


def test_triton_backend_on_cpu_tensors_uses_the_reference():
    from causalppl.kernels import decoder_forward
    from causalppl.kernels.decoder import reference
    from causalppl.kernels.testing import random_decoder

    w, b = random_decoder(0, (2, 3))
    z = torch.randn(4, 2)
    with use_backend("triton"):
        y = decoder_forward(z, w, b, "tanh")
    assert torch.equal(y, reference.decoder_forward(z, w, b, "tanh"))


def test_interpret_in_a_compiled_process_says_how_to_fix_it():
    import subprocess
    import sys

    code = (
        "import triton.language, torch\n"
        "from causalppl.errors import CausalError\n"
        "from causalppl.kernels import decoder_forward, use_backend\n"
        "try:\n"
        "    with use_backend('interpret'):\n"
        "        decoder_forward(torch.zeros(1, 1), [torch.ones(1, 1)], [torch.zeros(1)], 'relu')\n"
        "except CausalError as err:\n"
        "    print(err)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "start the process with TRITON_INTERPRET=1" in out.stdout, out.stderr[-2000:]
