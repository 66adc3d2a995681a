"""Backend selection: one environment variable, a context manager, one module per mode."""

import os

import pytest
import torch
from causalppl.kernels import _backend, backend, precision, use_backend

from causalppl.errors import CausalError


def test_default_follows_cuda(monkeypatch):
    monkeypatch.delenv("CAUSALPPL_KERNELS", raising=False)
    assert backend() == ("triton" if torch.cuda.is_available() else "torch")


@pytest.mark.parametrize("value", ["torch", "triton", "interpret", " Torch "])
def test_variable_selects_backend(monkeypatch, value):
    monkeypatch.setenv("CAUSALPPL_KERNELS", value)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert backend() == value.strip().lower()
    if value == "interpret":  # the interpreter is set up as soon as it is chosen
        assert os.environ["TRITON_INTERPRET"] == "1"


def test_invalid_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("CAUSALPPL_KERNELS", "cuda")
    with pytest.raises(CausalError, match="CAUSALPPL_KERNELS='cuda'"):
        backend()
    monkeypatch.setenv("CAUSALPPL_KERNELS_PRECISION", "fp8")
    with pytest.raises(CausalError, match="CAUSALPPL_KERNELS_PRECISION='fp8'"):
        precision()
    with pytest.raises(CausalError, match="backend='gpu'"), use_backend("gpu"):
        pass


def test_use_backend_nests_and_restores(monkeypatch):
    monkeypatch.setenv("CAUSALPPL_KERNELS", "torch")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with use_backend("interpret"):
        assert backend() == "interpret" and os.environ["TRITON_INTERPRET"] == "1"
        with use_backend("torch"):
            assert backend() == "torch"
        assert backend() == "interpret"
    assert backend() == "torch" and "TRITON_INTERPRET" not in os.environ


def test_each_mode_gets_its_own_kernel_module():
    import triton

    interpreted = _backend.triton_module("mechanism/triton.py", interpret=True)
    compiled = _backend.triton_module("mechanism/triton.py", interpret=False)
    assert interpreted is not compiled
    assert interpreted is _backend.triton_module("mechanism/triton.py", interpret=True)
    assert interpreted.INTERPRETED and not compiled.INTERPRETED
    assert type(compiled._forward_kernel) is triton.runtime.jit.JITFunction
    assert type(interpreted._forward_kernel) is not triton.runtime.jit.JITFunction


def test_triton_backend_on_cpu_tensors_uses_the_reference():
    from causalppl.kernels import decoder_forward
    from causalppl.kernels.decoder import reference
    from causalppl.kernels.testing import random_decoder

    w, b = random_decoder(0, (2, 3))
    z = torch.randn(4, 2)
    with use_backend("triton"):
        y = decoder_forward(z, w, b, "tanh")
    assert torch.equal(y, reference.decoder_forward(z, w, b, "tanh"))
