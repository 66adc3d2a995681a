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
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
