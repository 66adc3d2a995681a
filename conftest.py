"""Repository-wide pytest set-up: float64 by default, hypothesis profile from the env."""

import os

import pytest
import torch

if not torch.cuda.is_available():
    # Without a GPU every Triton kernel can only run interpreted. Triton fixes a kernel's mode
    # when its module is imported, so set this before any test imports one: otherwise test
    # order decides whether a kernel module was imported compiled (unusable here) or not.
    os.environ.setdefault("TRITON_INTERPRET", "1")

from causalppl.testing.profiles import load_profile

load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
torch.set_num_threads(1)  # 2 shared cores: extra threads make small ops far slower


@pytest.fixture(autouse=True)
def _float64_and_fresh_param_store():
    import pyro

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    pyro.clear_param_store()
    yield
    torch.set_default_dtype(old)


def pytest_collection_modifyitems(config, items):
    """One Triton mode per process (kernels/README.md): fix it before any test imports Triton,
    then skip the tests this process cannot run, wherever they live.

    Interpreted when ``TRITON_INTERPRET`` is set, ``CAUSALPPL_KERNELS=interpret``
    (``make test-kernels``) or there is no CUDA; compiled otherwise. ``interpreter`` tests
    (which call ``use_backend("interpret")``) need the first, ``gpu`` tests the second.
    """
    import importlib.util

    from causalppl.kernels import _backend

    if importlib.util.find_spec("triton") is None:
        mode = None
    else:
        if _backend.process_mode() is None:
            asked = os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "on", "yes")
            asked = asked or os.environ.get("CAUSALPPL_KERNELS", "").strip().lower() == "interpret"
            _backend._import_triton(interpret=asked or not torch.cuda.is_available())
        mode = _backend.process_mode()
    for item in items:
        if "interpreter" in item.keywords and mode != "interpret":
            item.add_marker(
                pytest.mark.skip(reason="Triton is compiled (or absent) in this process; run `make test-kernels`")
            )
        if "gpu" in item.keywords and (mode != "compiled" or not torch.cuda.is_available()):
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device with Triton compiled in this process"))
