"""Kernel tests run in one Triton mode per process (kernels/README.md, "one mode per process").

Interpreter tests need Triton imported for the interpreter, GPU tests need it compiled. The
mode is fixed here, before any test imports Triton: interpreted when ``TRITON_INTERPRET``
is set, ``CAUSALPPL_KERNELS=interpret`` (``make test-kernels``) or there is no CUDA; compiled
otherwise. Tests this process cannot run are skipped with the command that runs them.
"""

import os
import pathlib

import pytest
import torch

HERE = pathlib.Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    from causalppl.kernels import _backend

    if _backend.process_mode() is None:
        asked = os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "on", "yes")
        asked = asked or os.environ.get("CAUSALPPL_KERNELS", "").strip().lower() == "interpret"
        _backend._import_triton(interpret=asked or not torch.cuda.is_available())
    mode = _backend.process_mode()
    for item in items:
        if HERE not in pathlib.Path(item.path).parents:
            continue
        if "interpreter" in item.keywords and mode != "interpret":
            item.add_marker(pytest.mark.skip(
                reason="Triton is compiled in this process; run `make test-kernels`"))
        if "gpu" in item.keywords and mode != "compiled":
            item.add_marker(pytest.mark.skip(reason="Triton is interpreted in this process"))
