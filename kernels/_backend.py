"""Which implementation the kernels dispatch to, chosen in one place.

Two environment variables (see ``kernels/README.md``):

* ``CAUSALPPL_KERNELS`` = ``torch`` | ``triton`` | ``interpret``. Default: ``triton`` when
  CUDA is available, else ``torch``. ``interpret`` runs the same Triton kernels on CPU
  through the Triton interpreter (``TRITON_INTERPRET=1``) — slow, for tests.
* ``CAUSALPPL_KERNELS_PRECISION`` = ``fp32`` | ``tf32`` | ``bf16``: the operand precision
  of the matrix products inside the Triton kernels (accumulation is always fp32).

Triton reads ``TRITON_INTERPRET`` when a function is decorated with ``triton.jit``, so the
kernel modules are never imported eagerly: :func:`triton_module` loads one private copy of
a kernel file per mode (compiled or interpreted), with the variable set as that mode needs
while the file executes. Switching backends inside one process is therefore safe, and
tests switch with the :func:`use_backend` context manager.

Example:
    >>> from causalppl.kernels import backend, use_backend
    >>> with use_backend("torch"):
    ...     backend()
    'torch'
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pathlib
import sys
from collections.abc import Iterator
from types import ModuleType

import torch

from causalppl.errors import CausalError

__all__ = [
    "BACKENDS",
    "ENV_BACKEND",
    "ENV_PRECISION",
    "PRECISIONS",
    "backend",
    "precision",
    "triton_module",
    "use_backend",
]

ENV_BACKEND = "CAUSALPPL_KERNELS"
ENV_PRECISION = "CAUSALPPL_KERNELS_PRECISION"
BACKENDS = ("torch", "triton", "interpret")
PRECISIONS = ("fp32", "tf32", "bf16")

_override: list[str] = []  # stack of use_backend() names; the last one wins
_modules: dict[tuple[str, bool], ModuleType] = {}
_HERE = pathlib.Path(__file__).resolve().parent


def _check(name: str, allowed: tuple[str, ...], where: str) -> str:
    value = name.strip().lower()
    if value not in allowed:
        raise CausalError(f"{where}={name!r} is not one of {', '.join(allowed)}")
    return value


def backend() -> str:
    """The active backend: ``"torch"``, ``"triton"`` or ``"interpret"``.

    A :func:`use_backend` block wins over ``CAUSALPPL_KERNELS``; an invalid value of the
    variable raises :class:`~causalppl.errors.CausalError` naming it.
    """
    if _override:
        return _override[-1]
    raw = os.environ.get(ENV_BACKEND)
    if raw is None or raw.strip() == "":
        return "triton" if torch.cuda.is_available() else "torch"
    value = _check(raw, BACKENDS, ENV_BACKEND)
    if value == "interpret":
        os.environ["TRITON_INTERPRET"] = "1"
    return value


def precision() -> str:
    """Operand precision of the kernels' matrix products (``CAUSALPPL_KERNELS_PRECISION``).

    Example:
        >>> precision() in PRECISIONS
        True
    """
    raw = os.environ.get(ENV_PRECISION)
    if raw is None or raw.strip() == "":
        return "fp32"
    return _check(raw, PRECISIONS, ENV_PRECISION)


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Run a block with another backend (tests use this to compare backends).

    ``interpret`` also sets ``TRITON_INTERPRET=1`` for the block and restores the previous
    value afterwards.

    Example:
        >>> with use_backend("interpret"):
        ...     os.environ["TRITON_INTERPRET"]
        '1'
    """
    value = _check(name, BACKENDS, "backend")
    saved = os.environ.get("TRITON_INTERPRET")
    if value == "interpret":
        os.environ["TRITON_INTERPRET"] = "1"
    _override.append(value)
    try:
        yield value
    finally:
        _override.pop()
        if value == "interpret":
            if saved is None:
                os.environ.pop("TRITON_INTERPRET", None)
            else:
                os.environ["TRITON_INTERPRET"] = saved


def triton_module(path: str, interpret: bool) -> ModuleType:
    """Load ``kernels/<path>`` (a file of ``triton.jit`` kernels) for the interpreter or the GPU.

    Each mode gets its own module object (cached), so one process can hold both; inside a
    loaded file, ``triton.knobs.runtime.interpret`` tells which mode it was loaded for.
    """
    key = (path, interpret)
    if key in _modules:
        return _modules[key]
    dotted = path.removesuffix(".py").replace("/", ".")
    name = f"{__package__}.{dotted}_{'interpreted' if interpret else 'compiled'}"
    saved = os.environ.get("TRITON_INTERPRET")
    if interpret:
        os.environ["TRITON_INTERPRET"] = "1"
    else:
        os.environ.pop("TRITON_INTERPRET", None)
    try:
        spec = importlib.util.spec_from_file_location(name, _HERE / path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    finally:
        if saved is None:
            os.environ.pop("TRITON_INTERPRET", None)
        else:
            os.environ["TRITON_INTERPRET"] = saved
    _modules[key] = module
    return module
