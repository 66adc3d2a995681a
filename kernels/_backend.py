"""Which implementation the kernels dispatch to, chosen in one place.

Two environment variables (see ``kernels/README.md``):

* ``CAUSALPPL_KERNELS`` = ``torch`` | ``triton`` | ``interpret``. Default: ``triton`` when
  CUDA is available, else ``torch``. ``interpret`` runs the same Triton kernels on CPU
  through the Triton interpreter (``TRITON_INTERPRET=1``) — slow, for tests.
* ``CAUSALPPL_KERNELS_PRECISION`` = ``fp32`` | ``ieee`` | ``tf32`` | ``bf16``: the operand
  precision of the matrix products inside the Triton kernels (accumulation is always
  fp32; ``fp32`` is 3xTF32 on tensor cores, ``ieee`` exact fp32 FMA).

Triton reads ``TRITON_INTERPRET`` when a function is decorated with ``triton.jit`` —
including the functions of its own library, decorated once, when ``triton.language`` is
first imported. A process therefore runs Triton either interpreted or compiled, fixed at
that first import. The kernel modules are imported lazily, after the backend is chosen:
``interpret`` sets ``TRITON_INTERPRET=1`` (before Triton's import when it has not happened
yet), and asking for a mode the process cannot run raises
:class:`~causalppl.errors.CausalError` that says how to start the process instead.
:func:`triton_module` loads one private copy of a kernel file per mode; tests switch
backends with the :func:`use_backend` context manager.

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
    "process_mode",
    "triton_module",
    "use_backend",
]

ENV_BACKEND = "CAUSALPPL_KERNELS"
ENV_PRECISION = "CAUSALPPL_KERNELS_PRECISION"
BACKENDS = ("torch", "triton", "interpret")
PRECISIONS = ("fp32", "ieee", "tf32", "bf16")

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
    if value == "interpret" and process_mode() != "compiled":
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

    ``interpret`` also sets ``TRITON_INTERPRET=1`` and leaves it set: once Triton has been
    imported for the interpreter, the whole process is an interpreter process.

    Example:
        >>> with use_backend("torch"), use_backend("interpret"):
        ...     backend()
        'interpret'
    """
    value = _check(name, BACKENDS, "backend")
    if value == "interpret" and process_mode() != "compiled":
        os.environ["TRITON_INTERPRET"] = "1"
    _override.append(value)
    try:
        yield value
    finally:
        _override.pop()


def process_mode() -> str | None:
    """How this process imported Triton's own library: ``"interpret"``, ``"compiled"``, or
    ``None`` when ``triton.language`` has not been imported yet.

    Example:
        >>> process_mode() in (None, "interpret", "compiled")
        True
    """
    standard = sys.modules.get("triton.language.standard")
    if standard is None:
        return None
    return "interpret" if type(standard.sigmoid).__name__ == "InterpretedFunction" else "compiled"


def _import_triton(interpret: bool) -> None:
    """Import Triton in the mode asked for, or check that the process already is in it."""
    mode = process_mode()
    if mode is None:
        if interpret:
            os.environ["TRITON_INTERPRET"] = "1"
        else:
            os.environ.pop("TRITON_INTERPRET", None)
        import triton.language  # noqa: F401  (decorates Triton's library in this mode)
    elif mode == "compiled" and interpret:
        raise CausalError(
            "CAUSALPPL_KERNELS=interpret: Triton was already imported for the GPU in this "
            "process, and its own library cannot run interpreted; start the process with "
            "TRITON_INTERPRET=1 (or CAUSALPPL_KERNELS=interpret before Triton is imported)"
        )
    elif mode == "interpret" and not interpret:
        raise CausalError(
            "CAUSALPPL_KERNELS=triton: Triton was imported for the interpreter in this process "
            "(TRITON_INTERPRET=1); start the process without TRITON_INTERPRET to use the GPU"
        )


def triton_module(path: str, interpret: bool) -> ModuleType:
    """Load ``kernels/<path>`` (a file of ``triton.jit`` kernels) for the interpreter or the GPU.

    The module is cached per mode under a private name; inside it,
    ``triton.knobs.runtime.interpret`` tells which mode it was loaded for. Raises
    :class:`~causalppl.errors.CausalError` when the process imported Triton in the other
    mode (see the module docstring).
    """
    key = (path, interpret)
    if key in _modules:
        return _modules[key]
    _import_triton(interpret)
    dotted = path.removesuffix(".py").replace("/", ".")
    name = f"{__package__}.{dotted}_{'interpreted' if interpret else 'compiled'}"
    saved = os.environ.pop("TRITON_INTERPRET", None)
    if interpret:  # an interpreter process keeps the variable (Triton also reads it later)
        saved = os.environ["TRITON_INTERPRET"] = "1"
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
        if saved is not None:
            os.environ["TRITON_INTERPRET"] = saved
    _modules[key] = module
    return module
